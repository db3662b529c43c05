//! The steps one call at a time, as the binding's batches hold them: each batch is computed
//! when first asked for (its rows, its rejections, its length), not when its step is called.
//!
//! A chain that nobody looks into until its end (`parse` → `validate` → `transform` →
//! `deduplicate`, then its rows) so runs as the fused path does, in one pass over the body,
//! instead of collecting every parsed record, replaying them, and filtering the rows again.
//! Whatever is looked at is computed by the steps themselves, and kept. Either way the result
//! is the steps' (`process` equals them: the differential tests hold it), and errors stay where
//! they were: a body that cannot be read fails its parse at once, and a body whose parsing
//! could still fail (see [`ReadBody::parse_can_fail`]) is parsed at once.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::batch::{TransformedBatch, ValidatedBatch};
use crate::contract::Contract;
use crate::dedup::deduplicate;
use crate::error::Result;
use crate::input::Format;
use crate::parse::{read_body, Body, ParseOptions, ParsedBatch, ReadBody};
use crate::process::{parse_validate, process_read};
use crate::transform::{transform, TransformOptions};
use crate::validate::validate;

/// What computes a batch (`Waiting`), or the batch (`Ready`).
enum Stage<P, T> {
    Waiting(P),
    Ready(Arc<T>),
}

impl<P: Clone, T> Clone for Stage<P, T> {
    fn clone(&self) -> Self {
        match self {
            Stage::Waiting(plan) => Stage::Waiting(plan.clone()),
            Stage::Ready(value) => Stage::Ready(value.clone()),
        }
    }
}

/// A batch computed once, when first asked for; its plan (which may hold a body) is dropped
/// then. Threads asking at once wait for the one computing it.
struct Deferred<P, T> {
    stage: Mutex<Stage<P, T>>,
}

impl<P: Clone, T> Deferred<P, T> {
    fn waiting(plan: P) -> Self {
        Deferred { stage: Mutex::new(Stage::Waiting(plan)) }
    }

    fn ready(value: T) -> Self {
        Deferred { stage: Mutex::new(Stage::Ready(Arc::new(value))) }
    }

    fn lock(&self) -> MutexGuard<'_, Stage<P, T>> {
        // A panic while computing leaves the plan in place: the next caller computes again.
        self.stage.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The plan or the batch as they are now, computing nothing.
    fn now(&self) -> Stage<P, T> {
        self.lock().clone()
    }

    fn get(&self, compute: impl FnOnce(&P) -> T) -> Arc<T> {
        let mut stage = self.lock();
        match &*stage {
            Stage::Ready(value) => value.clone(),
            Stage::Waiting(plan) => {
                let value = Arc::new(compute(plan));
                *stage = Stage::Ready(value.clone());
                value
            }
        }
    }
}

/// The result of [`crate::parse()`], parsed when first asked for.
pub struct Parsed {
    format: Format,
    batch: Deferred<ReadBody, ParsedBatch>,
}

impl Parsed {
    /// Read the body now (its errors are the parse's), parse it later, or now when parsing
    /// could still fail.
    pub fn new(body: Body, options: &ParseOptions) -> Result<Parsed> {
        let read = read_body(body, options)?;
        let format = read.format();
        let batch = if read.parse_can_fail() { Deferred::ready(read.parse()?) } else { Deferred::waiting(read) };
        Ok(Parsed { format, batch })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn batch(&self) -> Arc<ParsedBatch> {
        self.batch.get(|read| read.parse().expect("a body whose parsing cannot fail is parsed later"))
    }

    /// The body, while nothing has parsed it yet.
    fn unparsed(&self) -> Option<ReadBody> {
        match self.batch.now() {
            Stage::Waiting(read) => Some(read),
            Stage::Ready(_) => None,
        }
    }
}

/// The result of [`crate::validate()`], validated when first asked for: in one pass with the
/// parse when nothing has parsed the body yet, else from the parsed records.
pub struct Validated {
    contract: Arc<Contract>,
    batch: Deferred<Arc<Parsed>, ValidatedBatch>,
}

impl Validated {
    pub fn new(parsed: Arc<Parsed>, contract: Arc<Contract>) -> Validated {
        Validated { contract, batch: Deferred::waiting(parsed) }
    }

    pub fn ready(batch: ValidatedBatch) -> Validated {
        Validated { contract: batch.contract.clone(), batch: Deferred::ready(batch) }
    }

    pub fn contract(&self) -> &Arc<Contract> {
        &self.contract
    }

    pub fn batch(&self) -> Arc<ValidatedBatch> {
        self.batch.get(|parsed| match parsed.unparsed() {
            Some(read) => {
                parse_validate(&read, self.contract.clone()).expect("a body whose parsing cannot fail is parsed later")
            }
            None => validate(&parsed.batch(), self.contract.clone()),
        })
    }

    /// The body, while neither this batch nor its parse has been computed.
    fn unread(&self) -> Option<ReadBody> {
        match self.batch.now() {
            Stage::Waiting(parsed) => parsed.unparsed(),
            Stage::Ready(_) => None,
        }
    }
}

#[derive(Clone)]
struct TransformPlan {
    validated: Arc<Validated>,
    /// The ingest time fixed when the transform was asked for.
    options: TransformOptions,
    deduplicate: bool,
}

/// The result of [`crate::transform()`] (and of [`crate::deduplicate()`] of one), computed when
/// first asked for: deduplicated rows of a body nothing has parsed yet take the fused path.
pub struct Transformed {
    contract: Arc<Contract>,
    batch: Deferred<TransformPlan, TransformedBatch>,
}

impl Transformed {
    pub fn new(validated: Arc<Validated>, options: &TransformOptions) -> Transformed {
        let plan = TransformPlan { validated: validated.clone(), options: options.fixed_now(), deduplicate: false };
        Transformed { contract: validated.contract.clone(), batch: Deferred::waiting(plan) }
    }

    pub fn ready(batch: TransformedBatch) -> Transformed {
        Transformed { contract: batch.contract.clone(), batch: Deferred::ready(batch) }
    }

    pub fn contract(&self) -> &Arc<Contract> {
        &self.contract
    }

    /// [`crate::deduplicate()`] of this batch: deferred too while this one is.
    pub fn deduplicated(&self) -> Transformed {
        match self.batch.now() {
            Stage::Waiting(plan) => Transformed {
                contract: self.contract.clone(),
                batch: Deferred::waiting(TransformPlan { deduplicate: true, ..plan }),
            },
            Stage::Ready(batch) => Transformed::ready(deduplicate(&batch)),
        }
    }

    pub fn batch(&self) -> Arc<TransformedBatch> {
        self.batch.get(|plan| {
            if plan.deduplicate {
                if let Some(read) = plan.validated.unread() {
                    return process_read(&read, self.contract.clone(), &plan.options, None)
                        .expect("a body whose parsing cannot fail is parsed later");
                }
            }
            let transformed = transform(&plan.validated.batch(), &plan.options);
            if plan.deduplicate {
                deduplicate(&transformed)
            } else {
                transformed
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CoreError, InputErrorKind};
    use crate::process::process;

    const BODY: &[u8] = b"{\"event_id\":\"a\",\"n\":1}\n{\"event_id\":\"b\",\"n\":2}\nnot json\n\
        {\"event_id\":\"a\",\"n\":3}\n{\"event_id\":\"c\",\"n\":\"x\"}\n";

    fn contract() -> Arc<Contract> {
        let yaml = "name: t\ndedup_key: [event_id]\nfields:\n  - {name: event_id, type: string, required: true, \
                    nullable: false}\n  - {name: n, type: int}\n";
        Arc::new(Contract::from_yaml(yaml, "<test>").unwrap())
    }

    fn options() -> TransformOptions {
        TransformOptions { job_id: "j".into(), source: "s".into(), ingested_at_us: Some(7) }
    }

    fn chain(body: &[u8]) -> (Arc<Parsed>, Arc<Validated>, Transformed) {
        let parsed = Arc::new(Parsed::new(Arc::new(body.to_vec()), &ParseOptions::default()).unwrap());
        let validated = Arc::new(Validated::new(parsed.clone(), contract()));
        let transformed = Transformed::new(validated.clone(), &options());
        (parsed, validated, transformed)
    }

    fn same(a: &TransformedBatch, b: &TransformedBatch) {
        assert_eq!(a.batch, b.batch);
        assert_eq!(a.rejected, b.rejected);
        assert_eq!(a.duplicates, b.duplicates);
    }

    #[test]
    fn a_chain_looked_at_or_not_gives_the_steps_result() {
        let body = Arc::new(BODY.to_vec());
        let parsed = crate::parse(body.clone(), &ParseOptions::default()).unwrap();
        let validated = validate(&parsed, contract());
        let steps = deduplicate(&transform(&validated, &options()));
        let fused = process(body, contract(), &ParseOptions::default(), &options(), None).unwrap();
        same(&steps, &fused);

        // Nothing looked at: the fused path.
        let (_, _, transformed) = chain(BODY);
        same(&transformed.deduplicated().batch(), &steps);
        // Each stage looked at first: the steps, each from the last.
        let (parsed_late, validated_late, transformed) = chain(BODY);
        assert_eq!(parsed_late.batch().len(), parsed.len());
        assert_eq!(validated_late.batch().num_rows, validated.num_rows);
        assert_eq!(validated_late.batch().rejected, validated.rejected);
        let undeduplicated = transformed.batch();
        same(&transformed.deduplicated().batch(), &steps);
        // A batch used twice is computed once and keeps its result.
        assert!(Arc::ptr_eq(&undeduplicated, &transformed.batch()));
        same(&undeduplicated, &transform(&validated, &options()));
    }

    #[test]
    fn the_ingest_time_is_when_the_transform_was_asked_for() {
        let (_, validated, _) = chain(BODY);
        let late = TransformOptions { ingested_at_us: None, ..options() };
        let before = TransformOptions::default().fixed_now().ingested_at_us.unwrap();
        let transformed = Transformed::new(validated, &late);
        let after = TransformOptions::default().fixed_now().ingested_at_us.unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let batch = transformed.batch();
        let stamped = batch.batch.column_by_name(crate::transform::INGESTED_AT_COLUMN).unwrap();
        let stamped =
            arrow_array::cast::AsArray::as_primitive::<arrow_array::types::TimestampMicrosecondType>(stamped).value(0);
        assert!((before..=after).contains(&stamped), "{before} <= {stamped} <= {after}");
    }

    #[test]
    fn a_body_that_cannot_be_parsed_fails_at_once() {
        let error = Parsed::new(Arc::new(b"a,a\n1,2\n".to_vec()), &ParseOptions::default()).err();
        assert!(matches!(error, Some(CoreError::Input { reason: InputErrorKind::BadCsvHeader, .. })), "{error:?}");
        let error = Parsed::new(Arc::new(b"\x1f\x8bnot gzip".to_vec()), &ParseOptions::default()).err();
        assert!(matches!(error, Some(CoreError::Input { reason: InputErrorKind::BadGzip, .. })), "{error:?}");
        let cut = ParseOptions { truncated_is_error: true, ..ParseOptions::default() };
        let error = Parsed::new(Arc::new(b"[{\"event_id\":\"a\"},".to_vec()), &cut).err();
        assert!(matches!(error, Some(CoreError::Input { reason: InputErrorKind::TruncatedBody, .. })), "{error:?}");
    }

    #[test]
    fn a_gzip_body_is_read_once() {
        // A body whose decompressed content is itself gzip: gunzipped once, as parse does.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, b"\x1f\x8b\x08 once\n").unwrap();
        let body = encoder.finish().unwrap();
        let ndjson = ParseOptions { format: Some(Format::Ndjson), ..ParseOptions::default() };
        let eager = crate::parse(Arc::new(body.clone()), &ndjson).unwrap();
        assert_eq!(eager.rejected.len(), 1);
        let parsed = Arc::new(Parsed::new(Arc::new(body), &ndjson).unwrap());
        let validated = Arc::new(Validated::new(parsed, contract()));
        let transformed = Transformed::new(validated, &options()).deduplicated();
        assert_eq!(transformed.batch().rejected, eager.rejected);
    }
}
