//! What a client may put into a worker's name and tags: EC2's limits (a tag key
//! has 1 to 128 characters, a value at most 256, an instance at most 50 tags; the
//! name becomes the `Name` tag) and the reserved prefixes. `ccm:` tags are ccm's
//! own (the worker id that keeps launches idempotent, the CML endpoint that
//! receives the fleet's CML credentials) and `aws:` tags are EC2's, so no client
//! sets or removes either, whatever its role.

use std::collections::BTreeMap;

use crate::domain_error::DomainError;

/// Longest tag key EC2 accepts, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value EC2 accepts, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// Most tags EC2 keeps on one instance (ccm's own included).
pub const MAX_TAGS: usize = 50;
/// Longest worker name: it becomes the `Name` tag's value.
pub const MAX_NAME_CHARS: usize = MAX_TAG_VALUE_CHARS;
/// Longest lab title CML 2.9 accepts (`LabCreate.title.maxLength`).
pub const MAX_LAB_TITLE_CHARS: usize = 64;
/// Tag key prefixes no client may set or remove (compared case-insensitively).
pub const RESERVED_TAG_PREFIXES: [&str; 2] = ["ccm:", "aws:"];

/// True for keys under a reserved prefix (`ccm:`, `aws:`, any case).
pub fn is_reserved_tag(key: &str) -> bool {
    RESERVED_TAG_PREFIXES.iter().any(|prefix| {
        key.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    })
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Refuses a reserved key, naming it.
pub fn check_tag_key_not_reserved(key: &str) -> Result<(), DomainError> {
    if is_reserved_tag(key) {
        return Err(DomainError::validation(
            format!("tags.{key}"),
            format!(
                "`{key}` is reserved: keys starting with {} are set by ccm or EC2 only",
                RESERVED_TAG_PREFIXES.map(|p| format!("`{p}`")).join(" or ")
            ),
        ));
    }
    Ok(())
}

/// Checks tags a client wants to set: no reserved key, EC2's key and value lengths,
/// no control characters.
pub fn check_client_tags(tags: &BTreeMap<String, String>) -> Result<(), DomainError> {
    for (key, value) in tags {
        check_tag_key_not_reserved(key)?;
        let key_chars = key.chars().count();
        if key.trim().is_empty() || key_chars > MAX_TAG_KEY_CHARS || has_control(key) {
            return Err(DomainError::validation(
                "tags",
                format!(
                    "key `{}` has {key_chars} characters; EC2 takes 1 to {MAX_TAG_KEY_CHARS} \
                     characters, not blank, without control characters",
                    shorten(key)
                ),
            ));
        }
        let value_chars = value.chars().count();
        if value_chars > MAX_TAG_VALUE_CHARS || has_control(value) {
            return Err(DomainError::validation(
                format!("tags.{key}"),
                format!(
                    "value has {value_chars} characters; EC2 takes at most \
                     {MAX_TAG_VALUE_CHARS}, without control characters"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses more tags than EC2 keeps on one instance.
pub fn check_tag_count(count: usize) -> Result<(), DomainError> {
    if count > MAX_TAGS {
        return Err(DomainError::validation(
            "tags",
            format!(
                "the instance would carry {count} tags (ccm's own and the launch \
                 template's included); EC2 keeps at most {MAX_TAGS}"
            ),
        ));
    }
    Ok(())
}

/// Checks a worker name: it becomes the EC2 `Name` tag.
pub fn check_worker_name(name: &str) -> Result<(), DomainError> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        return Err(DomainError::validation("name", "must not be empty"));
    }
    if chars > MAX_NAME_CHARS {
        return Err(DomainError::validation(
            "name",
            format!(
                "has {chars} characters; at most {MAX_NAME_CHARS} (it becomes the EC2 `Name` tag)"
            ),
        ));
    }
    if has_control(name) {
        return Err(DomainError::validation(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks a lab title a client gives: 1 to 64 characters as CML 2.9 requires.
pub fn check_lab_title(title: &str) -> Result<(), DomainError> {
    let chars = title.chars().count();
    if title.trim().is_empty() || chars > MAX_LAB_TITLE_CHARS || has_control(title) {
        return Err(DomainError::validation(
            "title",
            format!(
                "has {chars} characters; CML takes 1 to {MAX_LAB_TITLE_CHARS}, not blank, \
                 without control characters"
            ),
        ));
    }
    Ok(())
}

/// Shortest per-worker monitoring interval: CloudWatch's detailed monitoring
/// has one datapoint a minute, so a shorter sweep only repeats the last one.
pub const MIN_MONITORING_INTERVAL_SECONDS: u32 = 60;
/// Longest per-worker monitoring interval (a day): a worker observed more
/// rarely would go unnoticed when it stops or fails.
pub const MAX_MONITORING_INTERVAL_SECONDS: u32 = 86_400;

/// Checks a per-worker monitoring interval (`None`: the fleet's setting).
pub fn check_monitoring_interval(seconds: Option<u32>) -> Result<(), DomainError> {
    match seconds {
        Some(s)
            if !(MIN_MONITORING_INTERVAL_SECONDS..=MAX_MONITORING_INTERVAL_SECONDS)
                .contains(&s) =>
        {
            Err(DomainError::validation(
                "seconds",
                format!(
                    "is {s}; a worker is observed every {MIN_MONITORING_INTERVAL_SECONDS} to                      {MAX_MONITORING_INTERVAL_SECONDS} seconds (or null: the fleet's setting)"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The first 40 characters of a long text, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn monitoring_intervals_are_bounded_or_the_fleets() {
        assert!(check_monitoring_interval(None).is_ok());
        assert!(check_monitoring_interval(Some(MIN_MONITORING_INTERVAL_SECONDS)).is_ok());
        assert!(check_monitoring_interval(Some(MAX_MONITORING_INTERVAL_SECONDS)).is_ok());
        for bad in [0, 59, MAX_MONITORING_INTERVAL_SECONDS + 1, u32::MAX] {
            let error = check_monitoring_interval(Some(bad)).unwrap_err();
            assert!(error.to_string().contains("seconds"), "{error}");
        }
    }

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn refusal(result: Result<(), DomainError>) -> (String, String) {
        match result {
            Err(DomainError::Validation { field, reason }) => (field, reason),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn reserved_prefixes_in_any_case() {
        for key in [
            "ccm:cml-endpoint",
            "ccm:worker-id",
            "CCM:Foo",
            "Aws:x",
            "aws:",
        ] {
            let (field, reason) = refusal(check_client_tags(&tags(&[(key, "v")])));
            assert_eq!(field, format!("tags.{key}"));
            assert!(reason.contains(key), "{reason}");
        }
        assert!(check_client_tags(&tags(&[("ccmx", "v"), ("team:ccm:", "v")])).is_ok());
        assert!(!is_reserved_tag("cc"));
    }

    #[test]
    fn ec2_lengths() {
        let long_key = "k".repeat(129);
        let (field, reason) = refusal(check_client_tags(&tags(&[(&long_key, "v")])));
        assert_eq!(field, "tags");
        assert!(reason.contains("128"), "{reason}");
        assert!(check_client_tags(&tags(&[(&"k".repeat(128), "")])).is_ok());
        let (field, reason) = refusal(check_client_tags(&tags(&[("k", &"v".repeat(257))])));
        assert_eq!(field, "tags.k");
        assert!(reason.contains("256"), "{reason}");
        assert!(check_client_tags(&tags(&[("k", &"é".repeat(256))])).is_ok());
        assert!(check_client_tags(&tags(&[(" ", "v")])).is_err());
        assert!(check_client_tags(&tags(&[("k", "a\nb")])).is_err());
        assert!(check_tag_count(50).is_ok());
        assert!(refusal(check_tag_count(51)).1.contains("50"));
    }

    #[test]
    fn names_and_titles() {
        assert!(check_worker_name(&"n".repeat(256)).is_ok());
        let (field, reason) = refusal(check_worker_name(&"n".repeat(100_000)));
        assert_eq!(field, "name");
        assert!(
            reason.contains("256") && reason.contains("100000"),
            "{reason}"
        );
        assert!(check_worker_name("  ").is_err());
        assert!(check_worker_name("a\u{0}b").is_err());
        assert!(check_lab_title(&"t".repeat(64)).is_ok());
        let (field, reason) = refusal(check_lab_title(&"t".repeat(65)));
        assert_eq!(field, "title");
        assert!(reason.contains("64"), "{reason}");
        assert!(check_lab_title("").is_err());
    }
}
