import asyncio

import gilfree
import vowels

print(vowels.vowel_share(["banana", "sky", "queue"]))
print(asyncio.run(gilfree.aio.run(vowels.vowel_share, ["gilfree"], timeout=1.0)))
print(vowels.vowel_share)
print(gilfree.kernel_stats()["vowels.vowel_share"]["succeeded"])
