//! What part of a file a GET asks for, by RFC 9110: conditional requests (`If-None-Match`,
//! `If-Modified-Since`, `If-Range`) and one byte range. Pure: the handler opens the file.
//!
//! Several ranges in one request are answered with the whole file (200), which RFC 9110
//! allows; boot clients (iPXE `sanboot`, kernels) ask one range at a time.

use std::{ops::RangeInclusive, time::SystemTime};

use axum::http::{HeaderMap, Method, header};

/// What the file is, as its validators say.
#[derive(Debug, Clone)]
pub struct Validators {
    pub size: u64,
    /// A strong entity tag with its quotes, e.g. `"<sha256>"`.
    pub etag: String,
    pub modified: SystemTime,
}

/// How to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 304: the client's copy is current.
    NotModified,
    /// 200 with the whole file.
    Whole,
    /// 206 with these bytes.
    Part(RangeInclusive<u64>),
    /// 416: the range lies outside the file.
    Unsatisfiable,
}

/// Decides the answer to a GET or HEAD of a file with `validators`.
pub fn decide(method: &Method, headers: &HeaderMap, validators: &Validators) -> Answer {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    // The client's copy is current: `If-None-Match` decides when present (weak comparison),
    // else `If-Modified-Since`.
    if let Some(tags) = text(header::IF_NONE_MATCH) {
        if tag_listed(tags, &validators.etag, false) {
            return Answer::NotModified;
        }
    } else if let Some(since) = text(header::IF_MODIFIED_SINCE).and_then(parse_date)
        && seconds(validators.modified) <= seconds(since)
    {
        return Answer::NotModified;
    }
    if method != Method::GET {
        return Answer::Whole;
    }
    let Some(range) = text(header::RANGE) else {
        return Answer::Whole;
    };
    // A range for another version of the file is ignored: the whole file is sent.
    if let Some(condition) = headers.get(header::IF_RANGE) {
        let Ok(condition) = condition.to_str() else {
            return Answer::Whole;
        };
        let current = if condition.trim_start().starts_with(['"', 'W']) {
            tag_listed(condition, &validators.etag, true)
        } else {
            parse_date(condition).is_some_and(|date| seconds(date) == seconds(validators.modified))
        };
        if !current {
            return Answer::Whole;
        }
    }
    resolve(range, validators.size)
}

/// The byte range `range` (a `Range` header) asks of a file of `size` bytes.
pub fn resolve(range: &str, size: u64) -> Answer {
    // The unit is case-insensitive (RFC 9110, 14.1).
    let range = range.trim();
    let Some(spec) = range
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| &range[6..])
    else {
        // Another unit, or not a range at all: ignored.
        return Answer::Whole;
    };
    if spec.contains(',') {
        return Answer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Answer::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        // The last `n` bytes; more than the file is the whole file.
        ("", suffix) => match number(suffix) {
            None => Answer::Whole,
            Some(0) => Answer::Unsatisfiable,
            Some(_) if size == 0 => Answer::Unsatisfiable,
            Some(n) => Answer::Part(size.saturating_sub(n)..=size - 1),
        },
        (first, last) => {
            let Some(start) = number(first) else {
                return Answer::Whole;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    // `5-3`, or not a number: not a valid range, so ignored.
                    _ => return Answer::Whole,
                }
            };
            if start >= size {
                Answer::Unsatisfiable
            } else {
                Answer::Part(start..=end.min(size - 1))
            }
        }
    }
}

/// Whether `tags` (an `If-None-Match` or `If-Range` value: `*` or a list of entity tags)
/// names `etag`; `strong` comparison refuses weak tags.
fn tag_listed(tags: &str, etag: &str, strong: bool) -> bool {
    let tags = tags.trim();
    if tags == "*" {
        return !strong;
    }
    tags.split(',')
        .map(str::trim)
        .any(|tag| match tag.strip_prefix("W/") {
            Some(weak) => !strong && weak == etag,
            None => tag == etag,
        })
}

fn parse_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text.trim()).ok()
}

/// HTTP dates have whole seconds.
fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::Duration;

    fn validators() -> Validators {
        Validators {
            size: 1000,
            etag: "\"abc\"".into(),
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn ask(pairs: &[(header::HeaderName, &str)]) -> Answer {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        decide(&Method::GET, &headers, &validators())
    }

    #[test]
    fn single_ranges_are_cut_to_the_file() {
        assert_eq!(resolve("bytes=0-99", 1000), Answer::Part(0..=99));
        assert_eq!(resolve("bytes=500-", 1000), Answer::Part(500..=999));
        assert_eq!(resolve("bytes=990-5000", 1000), Answer::Part(990..=999));
        assert_eq!(resolve("bytes=-10", 1000), Answer::Part(990..=999));
        assert_eq!(resolve("bytes=-5000", 1000), Answer::Part(0..=999));
        assert_eq!(resolve("bytes=999-999", 1000), Answer::Part(999..=999));
        assert_eq!(resolve("Bytes=0-0", 1000), Answer::Part(0..=0));
    }

    #[test]
    fn ranges_outside_the_file_are_unsatisfiable() {
        assert_eq!(resolve("bytes=1000-", 1000), Answer::Unsatisfiable);
        assert_eq!(resolve("bytes=1000-2000", 1000), Answer::Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 1000), Answer::Unsatisfiable);
        assert_eq!(resolve("bytes=0-", 0), Answer::Unsatisfiable);
        assert_eq!(resolve("bytes=-1", 0), Answer::Unsatisfiable);
    }

    #[test]
    fn what_is_not_one_valid_byte_range_gets_the_whole_file() {
        for range in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-3",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "0-1",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(resolve(range, 1000), Answer::Whole, "{range}");
        }
    }

    #[test]
    fn a_current_copy_is_not_sent_again() {
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "\"abc\"")]),
            Answer::NotModified
        );
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "W/\"abc\", \"x\"")]),
            Answer::NotModified
        );
        assert_eq!(ask(&[(header::IF_NONE_MATCH, "*")]), Answer::NotModified);
        assert_eq!(ask(&[(header::IF_NONE_MATCH, "\"old\"")]), Answer::Whole);
        let date = "Tue, 14 Nov 2023 22:13:20 GMT"; // the file's time
        assert_eq!(
            ask(&[(header::IF_MODIFIED_SINCE, date)]),
            Answer::NotModified
        );
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        assert_eq!(ask(&[(header::IF_MODIFIED_SINCE, before)]), Answer::Whole);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            ask(&[
                (header::IF_NONE_MATCH, "\"old\""),
                (header::IF_MODIFIED_SINCE, date)
            ]),
            Answer::Whole
        );
    }

    #[test]
    fn a_range_for_another_version_gets_the_whole_file() {
        let range = (header::RANGE, "bytes=0-9");
        assert_eq!(ask(std::slice::from_ref(&range)), Answer::Part(0..=9));
        assert_eq!(
            ask(&[range.clone(), (header::IF_RANGE, "\"abc\"")]),
            Answer::Part(0..=9)
        );
        assert_eq!(
            ask(&[range.clone(), (header::IF_RANGE, "\"old\"")]),
            Answer::Whole
        );
        // If-Range compares strongly.
        assert_eq!(
            ask(&[range.clone(), (header::IF_RANGE, "W/\"abc\"")]),
            Answer::Whole
        );
        let date = "Tue, 14 Nov 2023 22:13:20 GMT";
        assert_eq!(
            ask(&[range.clone(), (header::IF_RANGE, date)]),
            Answer::Part(0..=9)
        );
        let later = "Tue, 14 Nov 2023 22:13:21 GMT";
        assert_eq!(ask(&[range, (header::IF_RANGE, later)]), Answer::Whole);
    }

    #[test]
    fn head_never_gets_a_part() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
        assert_eq!(
            decide(&Method::HEAD, &headers, &validators()),
            Answer::Whole
        );
    }
}
