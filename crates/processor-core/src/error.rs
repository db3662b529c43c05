//! The core's errors. Single bad records are never errors: they become [`crate::Rejection`]s.
//! These are for things that make a whole body or a whole contract unusable.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// A data contract is malformed: `path` names the file, `field` the place in it.
    #[error("{path}: {}{reason}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Contract { path: String, field: Option<String>, reason: String },
    /// The body as a whole cannot be read.
    #[error("{message}")]
    Input { reason: InputErrorKind, message: String },
    /// A batch cannot be encoded as data files (a column without a field id, an unusable
    /// partition source, an encoder failure); `message` names the column concerned.
    #[error("{message}")]
    Write { message: String },
}

/// Why a body could not be read; stable names that cross into Python as `InputError.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputErrorKind {
    BadGzip,
    TooLarge,
    BadCsvHeader,
    UnknownFormat,
    BadState,
    /// A JSON array body ends before its `]`: cut off in transit. Raised only when asked
    /// ([`crate::ParseOptions::truncated_is_error`]); otherwise the cut-off record is rejected.
    TruncatedBody,
}

impl InputErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputErrorKind::BadGzip => "bad_gzip",
            InputErrorKind::TooLarge => "too_large",
            InputErrorKind::BadCsvHeader => "bad_csv_header",
            InputErrorKind::UnknownFormat => "unknown_format",
            InputErrorKind::BadState => "bad_state",
            InputErrorKind::TruncatedBody => "truncated_body",
        }
    }
}

impl CoreError {
    pub fn contract(path: &str, field: Option<&str>, reason: impl Into<String>) -> Self {
        CoreError::Contract { path: path.to_string(), field: field.map(str::to_string), reason: reason.into() }
    }

    pub fn input(reason: InputErrorKind, message: impl Into<String>) -> Self {
        CoreError::Input { reason, message: message.into() }
    }
}

pub type Result<T> = std::result::Result<T, CoreError>;
