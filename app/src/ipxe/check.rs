//! Checks that a rendered script does what the renderer meant and nothing else, whatever
//! users typed: shared by the property tests and the fuzz target.

use super::{
    plan::*,
    tokenize::{Terminator, references, tokenize},
};

/// A command's name, word count and terminator.
pub type CommandShape = (Option<String>, usize, Option<Terminator>);

/// A script's shape as iPXE reads it: labels, and each command's name, word count and
/// terminator. User text must never change it.
pub fn shape(script: &str) -> Vec<(Option<String>, Vec<CommandShape>)> {
    tokenize(script)
        .into_iter()
        .map(|line| {
            let commands = line
                .commands
                .iter()
                .map(|c| (c.words.first().cloned(), c.words.len(), c.then))
                .collect();
            (line.label, commands)
        })
        .collect()
}

/// The settings a script may refer to: the client's own, the login's, and its texts.
pub fn allowed_reference(name: &str) -> bool {
    matches!(
        name,
        "mac:hexhyp"
            | "uuid"
            | "platform"
            | "buildarch"
            | "pxc-posted"
            | "username:hexraw"
            | "password:hexraw"
            | "pxc-p"
            | "pxc_choice"
    ) || name
        .strip_prefix("pxc-t")
        .and_then(|rest| rest.strip_suffix(":string"))
        .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// Checks that every `${…}` in the script is one the renderer meant.
pub fn assert_only_intended_references(script: &str) {
    for line in tokenize(script) {
        for command in line.commands {
            for word in command.words {
                for name in references(&word) {
                    assert!(
                        allowed_reference(&name),
                        "unexpected ${{{name}}} in {word:?}"
                    );
                }
            }
        }
    }
}

/// The same plan with every user-entered string replaced by something harmless.
pub fn tame(plan: &Plan) -> Plan {
    let text = |_: &String| "x".to_owned();
    let link = |_: &String| "http://x/".to_owned();
    match plan.clone() {
        Plan::Menu(mut menu) => {
            menu.title = text(&menu.title);
            menu.background_url = menu.background_url.as_ref().map(link);
            for line in &mut menu.lines {
                match line {
                    MenuLine::Entry { text: t, .. } | MenuLine::Gap { text: t } => *t = text(t),
                }
            }
            Plan::Menu(menu)
        }
        Plan::Choice(mut choice) => {
            choice.title = text(&choice.title);
            for option in &mut choice.options {
                option.text = text(&option.text);
            }
            Plan::Choice(choice)
        }
        Plan::Boot(mut boot) => {
            boot.title = text(&boot.title);
            boot.step = match boot.step {
                BootStep::KernelInitrd {
                    kernel_url,
                    initrd_url,
                    args,
                } => BootStep::KernelInitrd {
                    kernel_url: link(&kernel_url),
                    initrd_url: initrd_url.as_ref().map(link),
                    args: args.iter().map(|_| "a".to_owned()).collect(),
                },
                BootStep::Sanboot { iso_url } => BootStep::Sanboot {
                    iso_url: link(&iso_url),
                },
                BootStep::Memdisk {
                    iso_url,
                    memdisk_url,
                } => BootStep::Memdisk {
                    iso_url: link(&iso_url),
                    memdisk_url,
                },
                BootStep::Chain { url } => BootStep::Chain { url: link(&url) },
                other => other,
            };
            Plan::Boot(boot)
        }
        Plan::Login(mut login) => {
            login.notice = login.notice.as_ref().map(text);
            Plan::Login(login)
        }
        Plan::Notice(mut notice) => {
            notice.lines = notice.lines.iter().map(text).collect();
            Plan::Notice(notice)
        }
        entry @ Plan::Entry { .. } => entry,
    }
}

/// Panics unless the plan's script has the shape of its tamed twin and refers only to the
/// settings the renderer means: the property every script must have, for any input.
pub fn assert_safe(plan: &Plan) {
    let script = super::render(plan);
    assert_eq!(
        shape(&script),
        shape(&super::render(&tame(plan))),
        "user input changed what the script runs:\n{script}"
    );
    assert_only_intended_references(&script);
}
