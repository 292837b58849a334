//! process_numbers written the simple way in Rust with PyO3: a peer for gilfree's kernel benchmark.
//!
//! This is how the original FastAPI + Rust example did the work: a `Vec<i64>` in, one number at a
//! time, the contract's step with `wrapping_add`, `wrapping_mul` and `%`. No SIMD tricks, no
//! unsafe; `process_numbers_rayon` is the same loop over Rayon's `par_iter`.

use pyo3::prelude::*;
use rayon::prelude::*;

const MODULUS: i64 = 1_000_000_007;

fn process_one(x: i64, iterations: u32) -> i64 {
    let mut val = x;
    for _ in 0..iterations {
        val = val.wrapping_add(1).wrapping_mul(2) % MODULUS;
    }
    val
}

/// Applies `iterations` steps to each number, one number after another, on the calling thread.
#[pyfunction]
fn process_numbers(numbers: Vec<i64>, iterations: u32) -> Vec<i64> {
    numbers.iter().map(|&x| process_one(x, iterations)).collect()
}

/// The same, with the numbers spread over Rayon's global thread pool.
#[pyfunction]
fn process_numbers_rayon(numbers: Vec<i64>, iterations: u32) -> Vec<i64> {
    numbers.par_iter().map(|&x| process_one(x, iterations)).collect()
}

/// Threads in Rayon's global pool (RAYON_NUM_THREADS, else the CPUs it sees).
#[pyfunction]
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

/// The rustc that built this module.
#[pyfunction]
fn rustc_version() -> &'static str {
    env!("GILFREE_PEER_RUSTC_VERSION")
}

#[pymodule]
fn gilfree_rust_peer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(process_numbers, m)?)?;
    m.add_function(wrap_pyfunction!(process_numbers_rayon, m)?)?;
    m.add_function(wrap_pyfunction!(rayon_threads, m)?)?;
    m.add_function(wrap_pyfunction!(rustc_version, m)?)?;
    Ok(())
}
