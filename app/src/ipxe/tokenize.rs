//! A model of how iPXE reads a script, following `src/image/script.c` (lines, `\r`, `\`
//! continuations, `:label` lines) and `src/core/exec.c` (words at whitespace, commands ended
//! by `||`, `&&` or `;`, comments from a word starting with `#`), and of how
//! `expand_settings` finds `${…}` references. The renderer's tests check every script
//! against it.

/// How a command is tied to the next one on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    /// `||`: the next runs if this one failed.
    Or,
    /// `&&`: the next runs if this one succeeded.
    And,
    /// `;`: the next runs anyway.
    Always,
}

/// One command: its words before expansion, and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<String>,
    pub then: Option<Terminator>,
}

/// One logical line of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub label: Option<String>,
    pub commands: Vec<Command>,
}

/// C's `isspace` in the "C" locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Splits one command line into commands, as `system()` does.
pub fn split_commands(line: &str) -> Vec<Command> {
    let tokens: Vec<&str> = line.split(is_space).filter(|t| !t.is_empty()).collect();
    let mut commands = Vec::new();
    let mut words = Vec::new();
    for token in tokens {
        if token.starts_with('#') {
            // A comment ends the line; what came before is the last command.
            break;
        }
        let then = match token {
            "||" => Some(Terminator::Or),
            "&&" => Some(Terminator::And),
            ";" => Some(Terminator::Always),
            _ => None,
        };
        match then {
            Some(then) => commands.push(Command {
                words: std::mem::take(&mut words),
                then: Some(then),
            }),
            None => words.push(token.to_owned()),
        }
    }
    commands.push(Command { words, then: None });
    commands
}

/// Reads a whole script into lines, as `process_script()` does.
pub fn tokenize(script: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    let mut offset = 0;
    loop {
        let rest = &script[offset.min(script.len())..];
        let (fragment, advance) = match rest.find('\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len() + 1),
        };
        pending.push_str(fragment);
        offset += advance;
        if pending.ends_with('\r') {
            pending.pop();
        }
        if pending.ends_with('\\') {
            pending.pop();
            // iPXE's loop condition is checked here: a continuation on the last line is lost.
            if offset < script.len() {
                continue;
            }
            break;
        }
        let line = std::mem::take(&mut pending);
        let trimmed = line.trim_start_matches(is_space);
        let (label, command) = match trimmed.strip_prefix(':') {
            Some(rest) => {
                let end = rest.find(is_space).unwrap_or(rest.len());
                (Some(rest[..end].to_owned()), &rest[end..])
            }
            None => (None, trimmed),
        };
        lines.push(Line {
            label,
            commands: split_commands(command),
        });
        if offset >= script.len() {
            break;
        }
    }
    lines
}

/// The names of the settings a word refers to, in the order `expand_settings` would expand
/// them if every value were empty.
pub fn references(word: &str) -> Vec<String> {
    let mut text = word.to_owned();
    let mut names = Vec::new();
    loop {
        let bytes = text.as_bytes();
        let mut start = None;
        let mut end = None;
        for i in 0..bytes.len() {
            if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
                start = Some(i);
            }
            if start.is_some() && bytes[i] == b'}' {
                end = Some(i);
                break;
            }
        }
        let (Some(start), Some(end)) = (start, end) else {
            return names;
        };
        names.push(text[start + 2..end].to_owned());
        text = format!("{}{}", &text[..start], &text[end + 1..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &Line) -> Vec<Vec<&str>> {
        line.commands
            .iter()
            .map(|c| c.words.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn terminators_split_commands_only_as_whole_words() {
        let lines = tokenize("echo a||b || shell && x ; y\n");
        assert_eq!(lines.len(), 1);
        assert_eq!(
            words(&lines[0]),
            vec![vec!["echo", "a||b"], vec!["shell"], vec!["x"], vec!["y"]]
        );
        assert_eq!(lines[0].commands[0].then, Some(Terminator::Or));
    }

    #[test]
    fn a_word_starting_with_a_hash_comments_out_the_rest() {
        let lines = tokenize("echo a#b #c || shell\n");
        assert_eq!(words(&lines[0]), vec![vec!["echo", "a#b"]]);
    }

    #[test]
    fn a_trailing_backslash_joins_lines_and_cr_is_dropped() {
        let lines = tokenize("echo a\\\r\nb\r\necho c\n");
        assert_eq!(lines.len(), 2);
        assert_eq!(words(&lines[0]), vec![vec!["echo", "ab"]]);
    }

    #[test]
    fn labels_are_read_with_any_command_after_them() {
        let lines = tokenize("  :here echo hi\n:there\n");
        assert_eq!(lines[0].label.as_deref(), Some("here"));
        assert_eq!(words(&lines[0]), vec![vec!["echo", "hi"]]);
        assert_eq!(lines[1].label.as_deref(), Some("there"));
    }

    #[test]
    fn references_are_found_innermost_first_like_expand_settings() {
        assert_eq!(references("a${x}b${y:hex}"), vec!["x", "y:hex"]);
        assert_eq!(references("${a${b}}"), vec!["b", "a"]);
        assert_eq!(references("$(x} ${"), Vec::<String>::new());
    }
}
