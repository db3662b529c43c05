//! Data contracts: the YAML files in `src/eventlake/resources/contracts/`, parsed strictly and checked for sense.
//!
//! One contract drives validation here, the Iceberg schema and the dbt docs; a typo in one
//! must be a clear error naming the file and the field, never a silently ignored key.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// The events contract shipped with eventlake, used when no contract is given.
pub const DEFAULT_EVENTS_CONTRACT: &str = include_str!("../../../src/eventlake/resources/contracts/events.yaml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Int,
    Float,
    Bool,
    Timestamp,
    Date,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtraFields {
    Ignore,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Day,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default = "default_true")]
    pub nullable: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub min_length: Option<u32>,
    #[serde(default)]
    pub max_length: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub field: String,
    pub granularity: Granularity,
    pub column: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub name: String,
    #[serde(default = "default_version")]
    pub version: u32,
    #[serde(default)]
    pub description: String,
    /// Fields whose values identify a record; empty means no deduplication.
    #[serde(default)]
    pub dedup_key: Vec<String>,
    #[serde(default = "default_extra_fields")]
    pub extra_fields: ExtraFields,
    #[serde(default)]
    pub partition: Option<Partition>,
    pub fields: Vec<Field>,
}

fn default_true() -> bool {
    true
}
fn default_version() -> u32 {
    1
}
fn default_extra_fields() -> ExtraFields {
    ExtraFields::Ignore
}

/// Largest contract we accept; a contract is configuration, not data.
const MAX_CONTRACT_BYTES: usize = 1 << 20;
const MAX_FIELDS: usize = 1000;
const MAX_NAME_LEN: usize = 64;
const MAX_ENUM_VALUES: usize = 10_000;

impl Contract {
    /// Parse and check a contract. `source` names it in errors (a path or `<string>`).
    pub fn from_yaml(text: &str, source: &str) -> Result<Contract> {
        if text.len() > MAX_CONTRACT_BYTES {
            return Err(CoreError::contract(
                source,
                None,
                format!("contract is {} bytes, more than the {MAX_CONTRACT_BYTES} allowed", text.len()),
            ));
        }
        let contract: Contract = serde_norway::from_str(text).map_err(|err| {
            let message = err.to_string();
            // serde_norway prefixes the place in the document ("fields[2]: unknown field ...").
            let (field, reason) = match message.split_once(": ") {
                Some((place, rest)) if !place.contains(' ') => (Some(place.to_string()), rest.to_string()),
                _ => (None, message),
            };
            CoreError::Contract { path: source.to_string(), field, reason }
        })?;
        contract.check(source)?;
        Ok(contract)
    }

    pub fn from_file(path: &std::path::Path) -> Result<Contract> {
        let source = path.display().to_string();
        let metadata = std::fs::metadata(path)
            .map_err(|err| CoreError::contract(&source, None, format!("cannot read contract: {err}")))?;
        if metadata.len() as usize > MAX_CONTRACT_BYTES {
            return Err(CoreError::contract(
                &source,
                None,
                format!("contract is {} bytes, more than the {MAX_CONTRACT_BYTES} allowed", metadata.len()),
            ));
        }
        let bytes = std::fs::read(path)
            .map_err(|err| CoreError::contract(&source, None, format!("cannot read contract: {err}")))?;
        let text =
            String::from_utf8(bytes).map_err(|_| CoreError::contract(&source, None, "contract is not valid UTF-8"))?;
        Contract::from_yaml(&text, &source)
    }

    pub fn default_events() -> Contract {
        Contract::from_yaml(DEFAULT_EVENTS_CONTRACT, "eventlake/resources/contracts/events.yaml")
            .expect("the shipped events contract is valid (checked by a unit test)")
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The normalised contract, every default filled in.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a contract always serialises")
    }

    fn check(&self, source: &str) -> Result<()> {
        let err = |field: &str, reason: String| Err(CoreError::contract(source, Some(field), reason));
        if !is_identifier(&self.name) {
            return err(
                "name",
                format!(
                    "{:?} is not a lowercase identifier ([a-z][a-z0-9_]*, at most {MAX_NAME_LEN} characters)",
                    self.name
                ),
            );
        }
        if self.version == 0 {
            return err("version", "must be 1 or more".into());
        }
        if self.fields.is_empty() {
            return err("fields", "a contract needs at least one field".into());
        }
        if self.fields.len() > MAX_FIELDS {
            return err("fields", format!("{} fields, more than the {MAX_FIELDS} allowed", self.fields.len()));
        }
        for (i, field) in self.fields.iter().enumerate() {
            let place = format!("fields[{i}]");
            if !is_identifier(&field.name) {
                return err(&format!("{place}.name"), format!("{:?} is not a lowercase identifier ([a-z][a-z0-9_]*, at most {MAX_NAME_LEN} characters; a leading _ is reserved for metadata)", field.name));
            }
            if self.fields[..i].iter().any(|f| f.name == field.name) {
                return err(&format!("{place}.name"), format!("field {:?} is defined twice", field.name));
            }
            let place = format!("fields[{i}] ({})", field.name);
            let is_number = matches!(field.field_type, FieldType::Int | FieldType::Float);
            let is_string = field.field_type == FieldType::String;
            if (field.min.is_some() || field.max.is_some()) && !is_number {
                return err(&place, "min/max apply only to int and float fields".into());
            }
            for (key, bound) in [("min", field.min), ("max", field.max)] {
                if let Some(value) = bound {
                    if !value.is_finite() {
                        return err(&format!("{place}.{key}"), "must be a finite number".into());
                    }
                }
            }
            if let (Some(min), Some(max)) = (field.min, field.max) {
                if min > max {
                    return err(&place, format!("min {min} is greater than max {max}"));
                }
            }
            if (field.min_length.is_some() || field.max_length.is_some()) && !is_string {
                return err(&place, "min_length/max_length apply only to string fields".into());
            }
            if let (Some(min), Some(max)) = (field.min_length, field.max_length) {
                if min > max {
                    return err(&place, format!("min_length {min} is greater than max_length {max}"));
                }
            }
            if let Some(values) = &field.enum_values {
                if !is_string {
                    return err(&format!("{place}.enum"), "enum applies only to string fields".into());
                }
                if values.is_empty() {
                    return err(&format!("{place}.enum"), "an enum needs at least one value".into());
                }
                if values.len() > MAX_ENUM_VALUES {
                    return err(
                        &format!("{place}.enum"),
                        format!("{} values, more than the {MAX_ENUM_VALUES} allowed", values.len()),
                    );
                }
                let mut seen = std::collections::HashSet::with_capacity(values.len());
                for (j, value) in values.iter().enumerate() {
                    if normalize_enum(value) != value.as_str() || value.is_empty() {
                        return err(
                            &format!("{place}.enum[{j}]"),
                            format!(
                                "{value:?} must be non-empty, trimmed and lowercase (values are compared that way)"
                            ),
                        );
                    }
                    if !seen.insert(value) {
                        return err(&format!("{place}.enum[{j}]"), format!("{value:?} is listed twice"));
                    }
                }
            }
        }
        for (i, key) in self.dedup_key.iter().enumerate() {
            let place = format!("dedup_key[{i}]");
            let Some(field) = self.fields.iter().find(|f| &f.name == key) else {
                return err(&place, format!("{key:?} is not a field of the contract"));
            };
            if !field.required || field.nullable {
                return err(&place, format!("{key:?} must be required and not nullable to serve as a dedup key"));
            }
            if field.field_type == FieldType::Json {
                return err(&place, format!("{key:?} is a json field and cannot serve as a dedup key"));
            }
            if self.dedup_key[..i].contains(key) {
                return err(&place, format!("{key:?} is listed twice"));
            }
        }
        if let Some(partition) = &self.partition {
            match self.fields.iter().find(|f| f.name == partition.field) {
                None => return err("partition.field", format!("{:?} is not a field of the contract", partition.field)),
                Some(f) if !matches!(f.field_type, FieldType::Timestamp | FieldType::Date) => {
                    return err(
                        "partition.field",
                        format!("{:?} must be a timestamp or date field to partition by day", partition.field),
                    )
                }
                Some(_) => {}
            }
            if !is_identifier(&partition.column) || self.field_index(&partition.column).is_some() {
                return err(
                    "partition.column",
                    format!("{:?} must be a lowercase identifier that is not already a field", partition.column),
                );
            }
        }
        Ok(())
    }
}

fn is_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// Enum values are compared trimmed of ASCII whitespace and ASCII-lowercased.
pub fn normalize_enum(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_contracts_are_valid() {
        for name in ["events", "users", "products"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../../src/eventlake/resources/contracts/{name}.yaml"));
            let contract = Contract::from_file(&path).unwrap();
            assert_eq!(contract.name, name);
        }
        let events = Contract::default_events();
        assert_eq!(events.dedup_key, vec!["event_id"]);
        assert_eq!(events.partition.as_ref().unwrap().column, "event_date");
    }

    fn contract_error(yaml: &str) -> (Option<String>, String) {
        match Contract::from_yaml(yaml, "c.yaml") {
            Err(CoreError::Contract { path, field, reason }) => {
                assert_eq!(path, "c.yaml");
                (field, reason)
            }
            other => panic!("expected a contract error, got {other:?}"),
        }
    }

    #[test]
    fn a_typo_names_the_field() {
        let (field, reason) = contract_error("name: e\ndedup_key: [a]\nfields:\n  - name: a\n    typ: string\n");
        assert_eq!(field.as_deref(), Some("fields[0]"));
        assert!(reason.contains("unknown field `typ`"), "{reason}");
    }

    #[test]
    fn an_unknown_type_is_refused() {
        let (field, reason) = contract_error(
            "name: e\ndedup_key: [a]\nfields:\n  - {name: a, type: strng, required: true, nullable: false}\n",
        );
        assert_eq!(field.as_deref(), Some("fields[0].type"));
        assert!(reason.contains("strng"), "{reason}");
    }

    #[test]
    fn nonsense_constraints_are_refused() {
        let base = "name: e\ndedup_key: [a]\nfields:\n  - {name: a, type: string, required: true, nullable: false}\n";
        let (field, _) = contract_error(&format!("{base}  - {{name: b, type: string, min: 1}}\n"));
        assert_eq!(field.as_deref(), Some("fields[1] (b)"));
        let (field, _) = contract_error(&format!("{base}  - {{name: b, type: int, min: 5, max: 1}}\n"));
        assert_eq!(field.as_deref(), Some("fields[1] (b)"));
        let (field, _) = contract_error(&format!("{base}  - {{name: b, type: string, enum: [Page_View]}}\n"));
        assert_eq!(field.as_deref(), Some("fields[1] (b).enum[0]"));
        let (field, _) = contract_error(&format!("{base}  - {{name: a, type: int}}\n"));
        assert_eq!(field.as_deref(), Some("fields[1].name"));
        let (field, _) = contract_error(&format!("{base}  - {{name: _meta, type: int}}\n"));
        assert_eq!(field.as_deref(), Some("fields[1].name"));
        let (field, _) = contract_error("name: e\ndedup_key: [zz]\nfields:\n  - {name: a, type: string}\n");
        assert_eq!(field.as_deref(), Some("dedup_key[0]"));
        let (field, _) = contract_error("name: e\ndedup_key: [a]\nfields:\n  - {name: a, type: string}\n");
        assert_eq!(field.as_deref(), Some("dedup_key[0]"), "a nullable dedup key is refused");
        let (field, _) = contract_error(&format!("{base}partition: {{field: a, granularity: day, column: d}}\n"));
        assert_eq!(field.as_deref(), Some("partition.field"));
    }

    #[test]
    fn not_yaml_at_all_is_a_clear_error() {
        let (_, reason) = contract_error("{{{{ not: yaml");
        assert!(!reason.is_empty());
        let (_, reason) = contract_error("- just\n- a list\n");
        assert!(!reason.is_empty());
    }

    #[test]
    fn normalised_json_fills_defaults() {
        let c = Contract::from_yaml("name: e\ndedup_key: [a]\nfields:\n  - {name: a, type: string, required: true, nullable: false}\n  - {name: b, type: int}\n", "x").unwrap();
        let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["extra_fields"], "ignore");
        assert_eq!(json["fields"][1]["nullable"], true);
        assert_eq!(json["fields"][1]["required"], false);
        assert!(json["fields"][1]["enum"].is_null());
        assert!(json["partition"].is_null());
    }

    #[test]
    fn enum_normalisation_is_ascii_only() {
        assert_eq!(normalize_enum("  Page_View\t"), "page_view");
        assert_eq!(normalize_enum("\u{a0}x"), "\u{a0}x");
    }
}
