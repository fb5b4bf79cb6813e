//! The only way user-entered text and URLs reach an iPXE script.
//!
//! iPXE splits a line into words at whitespace, ends a command at a word `||`, `&&` or `;`,
//! treats a word starting with `#` as the start of a comment, joins a line ending in `\` with
//! the next, and expands `${name}` inside every word after splitting, again and again until no
//! `${…}` is left. None of that can be quoted. So:
//!
//! - text (titles, names, messages) is stored in a setting as hex bytes, which no splitting or
//!   comment rule can touch, and shown through `${name:string}`, with `${` broken so that the
//!   re-scan of the expanded value finds nothing to expand;
//! - URLs are one word, percent-encoded so that they hold no whitespace, `$`, `{`, `}`, `\`
//!   or quotes;
//! - boot arguments, already checked at input, are reduced to the same safe alphabet.

use std::fmt::Write;

/// Text as it can be shown: one line, never empty, and no `${` left to expand.
pub fn display_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = '\0';
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        // `${` would start an expansion when iPXE re-scans the expanded value.
        if c == '{' && previous == '$' {
            out.push('(');
        } else {
            out.push(c);
        }
        previous = c;
    }
    if out.is_empty() {
        // A setting set to nothing is deleted; a blank keeps every script the same shape.
        out.push(' ');
    }
    out
}

/// The value of a `set NAME:hex VALUE` command holding `text`: bytes as `xx:xx:…`.
pub fn hex_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for (i, byte) in text.bytes().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Whether a byte may stand as itself in a URL word.
fn url_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b':'
                | b'/'
                | b'?'
                | b'['
                | b']'
                | b'@'
                | b'!'
                | b'&'
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

/// A URL as one script word: everything outside RFC 3986's URL characters (and `$`, `'`,
/// `#`) percent-encoded; an existing `%XX` escape is kept as it is.
pub fn url_word(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let is_escape = byte == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if url_safe(byte) || is_escape {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
        i += 1;
    }
    // An empty word would vanish and shift every later argument, and one starting with `-`
    // would read as an option; checked URLs start with http(s)://, so neither happens to them.
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert_str(0, "invalid:");
    }
    out
}

/// A boot argument as one script word. Arguments are checked at input; anything that slips
/// through is reduced to characters iPXE takes literally.
pub fn arg_word(arg: &str) -> String {
    let word: String = arg
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '$' | '{' | '}' | '\\' | '"' | '\'' | '#') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match word.as_str() {
        "" | "||" | "&&" | ";" => "_".into(),
        _ => word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_text_breaks_expansions_and_flattens_lines() {
        assert_eq!(display_text("x ${password}"), "x $(password}");
        assert_eq!(display_text("a\nb\tc"), "a b c");
        assert_eq!(display_text("Ubuntu || shell x\\"), "Ubuntu || shell x\\");
        assert_eq!(display_text("$${a}"), "$$(a}");
    }

    #[test]
    fn hex_values_are_colon_separated_bytes() {
        assert_eq!(hex_value("Ab "), "41:62:20");
        assert_eq!(hex_value("é"), "c3:a9");
        assert_eq!(hex_value(""), "");
    }

    #[test]
    fn url_words_encode_what_ipxe_would_act_on() {
        assert_eq!(url_word("http://h/a b"), "http://h/a%20b");
        assert_eq!(url_word("http://h/${x}"), "http://h/%24%7Bx%7D");
        assert_eq!(url_word("http://h/a%20b%zz"), "http://h/a%20b%25zz");
        assert_eq!(url_word("http://h/p?a=1&b=2"), "http://h/p?a=1&b=2");
        assert_eq!(url_word("http://h/x\\#'"), "http://h/x%5C%23%27");
        assert_eq!(url_word("http://h/é"), "http://h/%C3%A9");
        assert_eq!(url_word(""), "invalid:");
        assert_eq!(url_word("-x"), "invalid:-x");
    }

    #[test]
    fn arg_words_hold_nothing_ipxe_acts_on() {
        assert_eq!(arg_word("console=ttyS0"), "console=ttyS0");
        assert_eq!(arg_word("a b${x}"), "a_b__x_");
        assert_eq!(arg_word("||"), "_");
        assert_eq!(arg_word("#x"), "_x");
        assert_eq!(arg_word(""), "_");
    }
}
