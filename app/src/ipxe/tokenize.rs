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

/// What an iPXE client keeps between scripts that could give a sign-in away: the settings
/// that are set, and the form-parameter lists (`params`, `param`) with their keys. Named
/// after `settings.c` and `params.c`; values are not modelled, only whether they exist.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientMemory {
    /// Whether this build has the `params` and `param` commands (Debian's builds do not).
    pub has_params: bool,
    pub settings: std::collections::BTreeSet<String>,
    /// Parameter lists by name (`""` for the anonymous list), with their keys in order.
    pub params: std::collections::BTreeMap<String, Vec<String>>,
}

/// Commands the model runs itself; any other one hands control to something the script
/// does not control (fetching or booting a URL, a menu, a shell), and ends a run.
const LOCAL_COMMANDS: [&str; 9] = [
    "set", "clear", "params", "param", "login", "isset", "goto", "echo", "prompt",
];

impl ClientMemory {
    /// A client that has just started: nothing set, no lists.
    pub fn new(has_params: bool) -> Self {
        Self {
            has_params,
            ..Self::default()
        }
    }

    /// A word with its `${…}` references expanded: a set setting reads as `x`, an unset one
    /// as nothing (values are not modelled).
    fn expand(&self, word: &str) -> String {
        let mut text = word.to_owned();
        while let Some(start) = text.find("${") {
            let Some(len) = text[start..].find('}') else {
                break;
            };
            let name = &text[start + 2..start + len];
            let name = name.split(':').next().unwrap_or_default();
            let value = if self.settings.contains(name) {
                "x"
            } else {
                ""
            };
            text = format!("{}{value}{}", &text[..start], &text[start + len + 1..]);
        }
        text
    }

    /// The value of a `--name value` option in `words`, if given.
    fn option<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
        let at = words.iter().position(|w| w == name)?;
        words.get(at + 1).map(String::as_str)
    }

    /// Runs one local command; `Err` is a failure (iPXE's `rc != 0`), `Ok(Some(label))` a
    /// jump.
    fn exec(&mut self, words: &[String]) -> Result<Option<String>, ()> {
        let setting = |word: &String| word.split(':').next().unwrap_or_default().to_owned();
        match words.first().map(String::as_str) {
            None => Ok(None),
            Some("set") => {
                let name = words.get(1).ok_or(())?;
                let value: String = words[2..].iter().map(|w| self.expand(w)).collect();
                if value.is_empty() {
                    self.settings.remove(&setting(name));
                } else {
                    self.settings.insert(setting(name));
                }
                Ok(None)
            }
            Some("clear") => {
                self.settings.remove(&setting(words.get(1).ok_or(())?));
                Ok(None)
            }
            // The sign-in form is submitted: both settings hold what was typed.
            Some("login") => {
                self.settings.insert("username".into());
                self.settings.insert("password".into());
                Ok(None)
            }
            Some("isset") => match words.get(1).map(|w| self.expand(w)) {
                Some(value) if !value.is_empty() => Ok(None),
                _ => Err(()),
            },
            Some("goto") => Ok(Some(words.get(1).ok_or(())?.clone())),
            // Text on screen, and a wait for a key.
            Some("echo" | "prompt") => Ok(None),
            Some("params") if self.has_params => {
                let name = Self::option(words, "--name").unwrap_or_default().to_owned();
                if words.iter().any(|w| w == "--delete") {
                    self.params.remove(&name);
                } else {
                    self.params.insert(name, Vec::new());
                }
                Ok(None)
            }
            Some("param") if self.has_params => {
                let list = Self::option(words, "--params").unwrap_or_default();
                let rest: Vec<&String> = words[1..]
                    .iter()
                    .filter(|w| !w.starts_with("--") && Some(w.as_str()) != Some(list))
                    .collect();
                let key = rest.first().ok_or(())?;
                self.params.get_mut(list).ok_or(())?.push((*key).clone());
                Ok(None)
            }
            // "command not found"
            Some(_) => Err(()),
        }
    }

    /// Runs `script` as iPXE would, with every modelled command succeeding as it would on
    /// this build (and the sign-in form submitted), until a command that hands control
    /// elsewhere; returns that command's words, or `None` if the script ended first.
    pub fn run(&mut self, script: &str) -> Option<Vec<String>> {
        self.run_until(script, &[])
    }

    /// [`run`](Self::run), also stopping before any of the commands `stop`.
    pub fn run_until(&mut self, script: &str, stop: &[&str]) -> Option<Vec<String>> {
        let lines = tokenize(script);
        let mut at = 0;
        let mut steps = 0;
        'lines: while let Some(line) = lines.get(at) {
            at += 1;
            steps += 1;
            assert!(steps < 10_000, "the script loops without handing over");
            let mut process = true;
            let mut ok = true;
            for command in &line.commands {
                if process {
                    let name = command.words.first().map(String::as_str);
                    if name.is_some_and(|n| !LOCAL_COMMANDS.contains(&n) || stop.contains(&n)) {
                        return Some(command.words.clone());
                    }
                    match self.exec(&command.words) {
                        Ok(Some(label)) => {
                            at = lines
                                .iter()
                                .position(|l| l.label.as_deref() == Some(label.as_str()))
                                .expect("goto a label of the script");
                            continue 'lines;
                        }
                        Ok(None) => ok = true,
                        Err(()) => ok = false,
                    }
                }
                process = match command.then {
                    Some(Terminator::Or) => !ok,
                    Some(Terminator::And) => ok,
                    Some(Terminator::Always) => true,
                    None => {
                        // A failure nothing handles ends the script.
                        if !ok {
                            return None;
                        }
                        break;
                    }
                };
            }
        }
        None
    }

    /// Whether anything of a sign-in is still reachable: a parameter list, or the
    /// username, password or hex password setting.
    pub fn holds_credentials(&self) -> bool {
        !self.params.is_empty()
            || ["username", "password", "pxc-p"]
                .iter()
                .any(|s| self.settings.contains(*s))
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
