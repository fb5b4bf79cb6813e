//! Reads PXE Cloud's scripts the way a person at an iPXE console sees them: the menu title,
//! the items and where each leads, and the messages.

use app::ipxe::tokenize::{Line, tokenize};
use std::collections::HashMap;

/// One script, read.
#[derive(Debug)]
pub struct Screen {
    pub text: String,
    texts: HashMap<String, String>,
    lines: Vec<Line>,
}

fn decode_hex(value: &str) -> String {
    let bytes: Vec<u8> = value
        .split(':')
        .filter(|b| !b.is_empty())
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect();
    String::from_utf8(bytes).expect("utf-8 text")
}

impl Screen {
    /// Reads a script; panics if it is not one.
    pub fn read(text: &str) -> Self {
        assert!(text.starts_with("#!ipxe\n"), "not a script: {text}");
        let lines = tokenize(text);
        let mut texts = HashMap::new();
        for line in &lines {
            for command in &line.commands {
                if let [set, name, value] = command.words.as_slice()
                    && set == "set"
                    && let Some(name) = name.strip_suffix(":hex")
                {
                    texts.insert(name.to_owned(), decode_hex(value));
                }
            }
        }
        Self {
            text: text.to_owned(),
            texts,
            lines,
        }
    }

    /// A word as shown: a text reference replaced by its text.
    fn shown(&self, word: &str) -> String {
        word.strip_prefix("${")
            .and_then(|w| w.strip_suffix(":string}"))
            .and_then(|name| self.texts.get(name))
            .cloned()
            .unwrap_or_else(|| word.to_owned())
    }

    fn commands(&self) -> impl Iterator<Item = &Vec<String>> {
        self.lines
            .iter()
            .flat_map(|l| l.commands.iter().map(|c| &c.words))
    }

    /// The menu's title, if the script shows a menu.
    pub fn title(&self) -> Option<String> {
        self.commands()
            .find(|w| w.first().is_some_and(|c| c == "menu"))
            .map(|w| {
                w[2..]
                    .iter()
                    .map(|x| self.shown(x))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    }

    /// The selectable items: (label, text), in order.
    pub fn items(&self) -> Vec<(String, String)> {
        self.commands()
            .filter(|w| {
                w.first().is_some_and(|c| c == "item") && w.get(1).is_some_and(|l| l != "--gap")
            })
            .map(|w| {
                let text = w[2..]
                    .iter()
                    .map(|x| self.shown(x))
                    .collect::<Vec<_>>()
                    .join(" ");
                (w[1].clone(), text)
            })
            .collect()
    }

    /// The texts of the items, in order.
    pub fn item_texts(&self) -> Vec<String> {
        self.items().into_iter().map(|(_, text)| text).collect()
    }

    /// The gap lines' texts.
    pub fn gaps(&self) -> Vec<String> {
        self.commands()
            .filter(|w| {
                w.first().is_some_and(|c| c == "item") && w.get(1).is_some_and(|l| l == "--gap")
            })
            .map(|w| {
                w[3..]
                    .iter()
                    .map(|x| self.shown(x))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// What `echo` lines print.
    pub fn messages(&self) -> Vec<String> {
        self.commands()
            .filter(|w| w.first().is_some_and(|c| c == "echo"))
            .map(|w| {
                w[1..]
                    .iter()
                    .filter(|x| *x != "--")
                    .map(|x| self.shown(x))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The URL the script chains to after `:label`.
    pub fn target(&self, label: &str) -> String {
        let mut after = false;
        for line in &self.lines {
            if line.label.as_deref() == Some(label) {
                after = true;
            }
            if after {
                for command in &line.commands {
                    if command.words.first().is_some_and(|c| c == "chain") {
                        return command.words.last().cloned().expect("a URL");
                    }
                }
            }
        }
        panic!("no chain after :{label} in\n{}", self.text)
    }

    /// The URL behind the item showing `text`.
    pub fn pick(&self, text: &str) -> String {
        let (label, _) = self
            .items()
            .into_iter()
            .find(|(_, t)| t == text)
            .unwrap_or_else(|| panic!("no item {text:?} in {:?}", self.item_texts()));
        self.target(&label)
    }

    /// Whether any command of the script is `name`.
    pub fn runs(&self, name: &str) -> bool {
        self.commands()
            .any(|w| w.first().is_some_and(|c| c == name))
    }

    /// The words of the first command named `name`.
    pub fn command(&self, name: &str) -> Vec<String> {
        self.commands()
            .find(|w| w.first().is_some_and(|c| c == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in\n{}", self.text))
    }
}
