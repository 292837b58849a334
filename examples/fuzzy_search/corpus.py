"""A deterministic corpus of product titles, made from the word lists below (no download).

``product_titles(n, seed)`` gives the same ``n`` titles for the same seed on every machine and
Python version (``random.Random`` with an integer seed is stable): "Nordhaus Stainless Steel
Water Bottle 750 ml Blue", "Müller Naïve Café Mug Small, Pack of 2", ... Brands, adjectives,
materials, nouns, colours and sizes repeat across titles, so near-duplicates and exact duplicates
are common, as in a real catalogue; a few words are Latin-1 (Café, Müller), beyond it (Œuvre,
Łódź), CJK (抹茶, 日本製) or astral emoji (🎧), so every width of code point is exercised.

A million titles take about 1.3 s in CPython: every field is drawn for all titles at once.
"""

from __future__ import annotations

import random

__all__ = ["DEFAULT_SEED", "product_titles"]

DEFAULT_SEED = 20240611

BRANDS = (
    "Acme", "Nordhaus", "Bluefin", "Kestrel", "Orchard & Vine", "Sólido", "Müller", "Høyer",
    "Lumen", "Papyrus", "Granite Peak", "Tidewater", "Oakridge", "Zephyr", "Maison Œuvre",
    "Brightline", "Copperleaf", "Sakura 桜", "Fjällräv", "Polaris", "Vértice", "Harbor Lane",
    "Ironwood", "Kōgei", "Northwind", "Saltmarsh", "Quillon", "Aurora", "Łódź Works", "Everest",
)  # fmt: skip
ADJECTIVES = (
    "Classic", "Premium", "Compact", "Deluxe", "Ergonomic", "Portable", "Rechargeable",
    "Wireless", "Vintage", "Naïve", "Organic", "Foldable", "Heavy-Duty", "Ultra-Light",
    "Waterproof", "Handmade", "Smart", "Insulated", "Non-Stick", "Crème", "Artisan", "Modular",
    "Adjustable", "Eco-Friendly", "Quiet", "Extra-Large", "Slim", "Rustic", "Minimalist", "Retro",
)  # fmt: skip
MATERIALS = (
    "", "", "", "Stainless Steel", "Bamboo", "Cotton", "Leather", "Ceramic", "Glass", "Oak",
    "Aluminium", "Silicone", "Wool", "Linen", "Cast Iron", "Porcelain", "Walnut", "Titanium",
)  # fmt: skip
NOUNS = (
    "Water Bottle", "Coffee Mug", "Backpack", "Desk Lamp", "Headphones 🎧", "Notebook",
    "Frying Pan", "Chef's Knife", "Yoga Mat", "Blender", "Teapot", "Throw Blanket", "Phone Case",
    "Sneakers", "Rain Jacket", "Cutting Board", "Wall Clock", "Bluetooth Speaker", "Travel Mug",
    "Office Chair", "Pillow", "Duvet Cover", "Kettle", "Sunglasses", "Wallet", "Umbrella ☔",
    "Café Press", "Matcha Whisk 抹茶", "Bento Box 弁当", "Fountain Pen", "Keyboard", "Mouse Pad",
    "Plant Pot 🌱", "Candle", "Scarf", "Espresso Cups", "Doormat", "Lunch Box", "Tote Bag",
    "Garden Hose", "Tool Set", "Bike Light", "Running Shorts", "Beanie", "Kitchen Scale",
)  # fmt: skip
COLOURS = (
    "", "", "Black", "White", "Navy Blue", "Forest Green", "Crimson", "Charcoal", "Beige",
    "Sky Blue", "Mustard", "Rosé", "Terracotta", "Ivory", "Olive", "Slate Grey", "Bordeaux",
    "Turquoise", "Lavender", "Matte Black",
)  # fmt: skip
SIZES = (
    "", "", "", "Small", "Medium", "Large", "XL", "500 ml", "750 ml", "1 L", "12 oz", "20 cm",
    "30 cm", "King Size", "Queen Size", "One Size", "EU 42", "Size 10", "2-Pack", "日本製",
)  # fmt: skip
EXTRAS = (
    "", "", "", "", "", "", ", Pack of 2", ", Pack of 4", " - Gift Edition", " (Renewed)",
    " - 2024 Model", ", Set of 6", " - Limited Edition", " - Édition Spéciale", " ✨",
)  # fmt: skip


def _spaced(words: tuple[str, ...]) -> list[str]:
    # Each word with the space that follows it, the empty word with none: joining never doubles.
    return [f"{word} " if word else "" for word in words]


def product_titles(n: int = 1_000_000, seed: int = DEFAULT_SEED) -> list[str]:
    """``n`` product titles, the same for the same ``seed``."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    rng = random.Random(seed)

    def draw(words: tuple[str, ...] | list[str]) -> list[str]:
        return rng.choices(words, k=n)

    brands, adjectives = draw(_spaced(BRANDS)), draw(_spaced(ADJECTIVES))
    materials, nouns = draw(_spaced(MATERIALS)), draw(NOUNS)
    colours, sizes, extras = draw(COLOURS), draw(SIZES), draw(EXTRAS)
    titles = [
        f"{b}{a}{m}{noun}{' ' if c else ''}{c}{' ' if s else ''}{s}{x}"
        for b, a, m, noun, c, s, x in zip(
            brands, adjectives, materials, nouns, colours, sizes, extras, strict=True
        )
    ]
    return titles


if __name__ == "__main__":
    import sys
    import time

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    started = time.perf_counter()
    made = product_titles(count)
    elapsed = time.perf_counter() - started
    lengths = sorted(len(title) for title in made)
    print(f"{count} titles in {elapsed:.2f} s; length median {lengths[len(lengths) // 2]}")
    print(*made[:8], sep="\n")
