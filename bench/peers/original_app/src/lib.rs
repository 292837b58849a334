//! The Rust extension of the original FastAPI + Rust example, rebuilt as it was written: a peer
//! for gilfree's service benchmark (bench/service_bench.py).
//!
//! `process_numbers_rust` runs 1000 iterations of the step on each number, one after another,
//! holding the GIL throughout (no `py.detach`) and printing a line before and after, as the
//! original did; it is gilfree's `process_numbers(numbers, 1000)`. `sum_squares_rust` is the
//! original's `a * a + b * b` in i64.

use pyo3::prelude::*;

const ITERATIONS: u32 = 1000;
const MODULUS: i64 = 1_000_000_007;

#[pyfunction]
fn process_numbers_rust(numbers: Vec<i64>) -> Vec<i64> {
    println!("Processing {} numbers in Rust...", numbers.len());
    let mut result = Vec::with_capacity(numbers.len());
    for &number in &numbers {
        let mut val = number;
        for _ in 0..ITERATIONS {
            val = val.wrapping_add(1).wrapping_mul(2) % MODULUS;
        }
        result.push(val);
    }
    println!("Done processing in Rust");
    result
}

#[pyfunction]
fn sum_squares_rust(a: i64, b: i64) -> i64 {
    a * a + b * b
}

#[pymodule]
fn original_ext(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(process_numbers_rust, m)?)?;
    m.add_function(wrap_pyfunction!(sum_squares_rust, m)?)?;
    Ok(())
}
