use pyo3::prelude::*; #[pymodule] fn data_processor_rs(_m: &Bound<PyModule>) -> PyResult<()> { Ok(()) }
