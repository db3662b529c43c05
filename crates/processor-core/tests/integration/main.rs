//! The core's integration tests, in one test binary: each binary is linked with thin LTO against
//! arrow and parquet, which costs more than compiling the tests themselves.

mod fuzz;
mod iceberg;
mod pipeline;
mod truncated;
