//! Writes a [`Plan`] as an iPXE script. Pure: no I/O, same plan, same bytes.

use super::{
    escape,
    plan::{
        BootPlan, BootStep, ChoicePlan, LoginPlan, MenuLine, MenuPlan, NoticePlan, Plan, ServerUrl,
    },
};

/// How long messages stay on screen before the script moves on, in milliseconds.
const PAUSE_MS: u32 = 10_000;
/// How long a message above the login prompt stays before the prompt, in milliseconds.
const NOTICE_MS: u32 = 5_000;
/// The named form-parameter list the sign-in is POSTed from. It is named so that no other
/// URL's `##params` finds it, and every script after the sign-in deletes it.
pub const LOGIN_PARAMS: &str = "pxc-login";
/// Set while a [`LOGIN_PARAMS`] list may exist: builds without `params` never set it, so they
/// never run (and print an error for) a `params` command after the sign-in.
const POSTED: &str = "pxc-posted";

/// A script being written: `set` lines for texts first, then the commands.
struct Script {
    texts: Vec<String>,
    body: Vec<String>,
}

impl Script {
    fn new() -> Self {
        Self {
            texts: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Stores user-visible text in a setting and returns the word that shows it.
    fn text(&mut self, text: &str) -> String {
        let shown = escape::display_text(text);
        let name = format!("pxc-t{}", self.texts.len());
        self.texts
            .push(format!("set {name}:hex {}", escape::hex_value(&shown)));
        format!("${{{name}:string}}")
    }

    fn line(&mut self, line: impl Into<String>) {
        self.body.push(line.into());
    }

    /// A jump label.
    fn label(&mut self, name: &str) {
        self.body.push(format!(":{name}"));
    }

    /// Shows a message until a key is pressed or the pause ends.
    fn pause(&mut self, message: &str) {
        self.line(format!("prompt --timeout {PAUSE_MS} {message} ||"));
    }

    /// Moves on to another script, replacing this one; `on_error` is where a failed fetch goes.
    fn chain(&mut self, url: &ServerUrl, on_error: &str) {
        self.line(format!(
            "chain --replace --autofree {} || goto {on_error}",
            url.as_str()
        ));
    }

    /// Deletes the sign-in's parameter list, if this client made one.
    fn forget_login_params(&mut self) {
        self.line(format!(
            "isset ${{{POSTED}}} && params --name {LOGIN_PARAMS} --delete ||"
        ));
        self.line(format!("clear {POSTED}"));
    }

    /// Forgets everything the sign-in left in the client's memory: the parameter list that
    /// carried the password, and the username and password settings. Every script after the
    /// sign-in starts with this, before anything that could run or fetch what an admin chose.
    fn forget_sign_in(&mut self) {
        self.forget_login_params();
        self.line("clear username");
        self.line("clear password");
        self.line("clear pxc-p");
    }

    fn finish(self) -> String {
        let mut out = String::from("#!ipxe\n");
        for line in self.texts.iter().chain(&self.body) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// The script for one boot step.
pub fn render(plan: &Plan) -> String {
    match plan {
        Plan::Entry { login_url } => entry(login_url),
        Plan::Login(login) => self::login(login),
        Plan::Choice(choice) => self::choice(choice),
        Plan::Menu(menu) => self::menu(menu),
        Plan::Boot(boot) => self::boot(boot),
        Plan::Notice(notice) => self::notice(notice),
    }
}

fn entry(login_url: &ServerUrl) -> String {
    let mut s = Script::new();
    s.line("echo PXE Cloud: connecting...");
    s.label("pxc_retry");
    s.chain(&login_url.with_client_query(), "pxc_failed");
    s.label("pxc_failed");
    s.line("echo PXE Cloud cannot be reached; trying again in 10 seconds (Ctrl-C for the shell).");
    s.line("sleep 10 || shell");
    s.line("goto pxc_retry");
    s.finish()
}

fn login(plan: &LoginPlan) -> String {
    let mut s = Script::new();
    // A failed attempt's list and password go; its username stays, so a retry starts from it
    // (after a sign-out the scripts before this one have cleared it).
    s.forget_login_params();
    s.line("clear password");
    s.line("clear pxc-p");
    if let Some(notice) = &plan.notice {
        // `login` clears the screen, so the message stays up until a key or the timeout.
        let text = s.text(notice);
        s.line(format!("echo -- {text}"));
        s.line(format!(
            "prompt --timeout {NOTICE_MS} Press any key to continue. ||"
        ));
    }
    s.label("pxc_login");
    s.line("login || goto pxc_cancelled");
    // Builds without `params` (Debian's, 2019 and 2025) send the credentials in the URL.
    // Both ways send hex, which iPXE cannot expand again: a password may hold `${`.
    s.line(format!("params --name {LOGIN_PARAMS} || goto pxc_get"));
    s.line(format!("set {POSTED} 1"));
    s.line(format!(
        "param --params {LOGIN_PARAMS} username ${{username:hexraw}}"
    ));
    s.line(format!(
        "param --params {LOGIN_PARAMS} password ${{password:hexraw}}"
    ));
    s.line("clear password");
    s.line(format!(
        "chain --replace --autofree {}##params={LOGIN_PARAMS} || goto pxc_failed",
        plan.session_url.as_str()
    ));
    s.label("pxc_get");
    s.line("set pxc-p ${password:hexraw}");
    s.line("clear password");
    let separator = if plan.session_url.as_str().contains('?') {
        '&'
    } else {
        '?'
    };
    s.line(format!(
        "chain --replace --autofree {}{separator}username=${{username:hexraw}}&password=${{pxc-p}} || goto pxc_failed",
        plan.session_url.as_str()
    ));
    s.label("pxc_failed");
    s.forget_login_params();
    s.line("clear pxc-p");
    s.line("echo Signing in failed: the server could not be reached.");
    s.pause("Press any key to try again.");
    s.line("goto pxc_login");
    s.label("pxc_cancelled");
    s.line("menu -- Sign-in cancelled");
    s.line("item pxc_login Sign in again");
    s.line("item pxc_exit Exit to the firmware");
    s.line("choose pxc_choice || goto pxc_login");
    s.line("goto ${pxc_choice}");
    s.label("pxc_exit");
    s.line("exit 1");
    s.finish()
}

/// The lines every menu ends with: Back (if any), Sign out, choose, and the handlers.
fn menu_tail(
    s: &mut Script,
    back_url: Option<&ServerUrl>,
    logout_url: &ServerUrl,
    choose: &str,
    targets: &[(String, &ServerUrl)],
) {
    s.line("item --gap --");
    if back_url.is_some() {
        s.line("item pxc_back Back");
    }
    s.line("item pxc_logout Sign out");
    s.line(format!("{choose} || goto pxc_escape"));
    s.line("goto ${pxc_choice}");
    for (label, url) in targets {
        s.label(label);
        s.chain(url, "pxc_failed");
    }
    if let Some(back) = back_url {
        s.label("pxc_back");
        s.chain(back, "pxc_failed");
    }
    s.label("pxc_logout");
    s.chain(logout_url, "pxc_failed");
    // Esc in a menu goes back a step, or shows the menu again.
    s.label("pxc_escape");
    s.line(if back_url.is_some() {
        "goto pxc_back"
    } else {
        "goto pxc_menu"
    });
    s.label("pxc_failed");
    s.line("echo The server could not be reached.");
    s.pause("Press any key to return to the menu.");
    s.line("goto pxc_menu");
}

fn choice(plan: &ChoicePlan) -> String {
    let mut s = Script::new();
    s.forget_sign_in();
    let title = s.text(&plan.title);
    let mut targets = Vec::with_capacity(plan.options.len());
    let mut items = Vec::with_capacity(plan.options.len());
    for (i, option) in plan.options.iter().enumerate() {
        let label = format!("pxc_o{}", i + 1);
        let text = s.text(&option.text);
        items.push(format!("item {label} {text}"));
        targets.push((label, &option.url));
    }
    s.label("pxc_menu");
    s.line(format!("menu -- {title}"));
    for item in items {
        s.line(item);
    }
    menu_tail(
        &mut s,
        plan.back_url.as_ref(),
        &plan.logout_url,
        "choose pxc_choice",
        &targets,
    );
    s.finish()
}

fn menu(plan: &MenuPlan) -> String {
    let mut s = Script::new();
    s.forget_sign_in();
    let title = s.text(&plan.title);
    let mut targets = Vec::new();
    let mut items = Vec::with_capacity(plan.lines.len());
    let mut default = None;
    for (i, line) in plan.lines.iter().enumerate() {
        match line {
            MenuLine::Entry {
                text,
                url,
                is_default,
            } => {
                let label = format!("pxc_e{}", i + 1);
                let text = s.text(text);
                items.push(format!("item {label} {text}"));
                if *is_default {
                    default = Some(label.clone());
                }
                targets.push((label, url));
            }
            MenuLine::Gap { text } => {
                let text = s.text(text);
                items.push(format!("item --gap -- {text}"));
            }
        }
    }
    if let Some(background) = &plan.background_url {
        // `console` is missing from some builds; the menu shows without the picture then.
        s.line(format!(
            "console --picture {} --keep ||",
            escape::url_word(background)
        ));
    }
    s.label("pxc_menu");
    s.line(format!("menu -- {title}"));
    for item in items {
        s.line(item);
    }
    let mut choose = String::from("choose");
    if let Some(label) = &default {
        choose.push_str(&format!(" --default {label}"));
        if let Some(seconds) = plan.timeout_secs.filter(|s| *s > 0) {
            choose.push_str(&format!(" --timeout {}", seconds.saturating_mul(1000)));
        }
    }
    choose.push_str(" pxc_choice");
    menu_tail(
        &mut s,
        plan.back_url.as_ref(),
        &plan.logout_url,
        &choose,
        &targets,
    );
    s.finish()
}

fn boot(plan: &BootPlan) -> String {
    let mut s = Script::new();
    s.forget_sign_in();
    let title = s.text(&plan.title);
    let menu_url = plan.menu_url.as_str();
    match &plan.step {
        BootStep::KernelInitrd {
            kernel_url,
            initrd_url,
            args,
        } => {
            s.line(format!("echo -- Booting {title}"));
            let mut kernel = format!("kernel {}", escape::url_word(kernel_url));
            if initrd_url.is_some() {
                kernel.push_str(" initrd=initrd.img");
            }
            for arg in args {
                kernel.push(' ');
                kernel.push_str(&escape::arg_word(arg));
            }
            s.line(format!("{kernel} || goto pxc_failed"));
            if let Some(initrd_url) = initrd_url {
                s.line(format!(
                    "initrd --name initrd.img {} || goto pxc_failed",
                    escape::url_word(initrd_url)
                ));
            }
            s.line("boot || goto pxc_failed");
        }
        BootStep::Sanboot { iso_url } => {
            s.line(format!("echo -- Booting {title}"));
            s.line(format!(
                "sanboot --no-describe {} || goto pxc_failed",
                escape::url_word(iso_url)
            ));
        }
        BootStep::Memdisk {
            iso_url,
            memdisk_url,
        } => {
            s.line("iseq ${platform} pcbios || goto pxc_not_bios");
            s.line(format!("echo -- Booting {title}"));
            s.line(format!(
                "kernel {} iso raw || goto pxc_failed",
                memdisk_url.as_str()
            ));
            s.line(format!(
                "initrd {} || goto pxc_failed",
                escape::url_word(iso_url)
            ));
            s.line("boot || goto pxc_failed");
            s.label("pxc_not_bios");
            s.line("echo This ISO boots with memdisk, which works only on BIOS machines; this one boots with UEFI.");
            s.pause("Press any key to return to the menu.");
            s.line(format!("chain --replace --autofree {menu_url} || exit 1"));
        }
        BootStep::LocalDisk => {
            s.line("iseq ${platform} pcbios || goto pxc_not_bios");
            s.line("echo Booting from the local disk");
            s.line("sanboot --no-describe --drive 0x80 || goto pxc_failed");
            // On UEFI, leaving iPXE hands the machine to the firmware's next boot option.
            s.label("pxc_not_bios");
            s.line("echo Leaving iPXE for the next boot device");
            s.line("exit 0");
        }
        BootStep::Reboot => s.line("reboot || goto pxc_failed"),
        BootStep::PowerOff => s.line("poweroff || goto pxc_failed"),
        BootStep::Shell => {
            s.line("echo Type exit to return to the menu.");
            s.line("shell ||");
            s.line(format!("chain --replace --autofree {menu_url} || exit 1"));
        }
        BootStep::Exit => s.line("exit 0"),
        BootStep::Chain { url } => {
            s.line(format!(
                "chain --replace --autofree {} || goto pxc_failed",
                escape::url_word(url)
            ));
        }
    }
    s.label("pxc_failed");
    s.line(format!("echo -- Could not boot {title}"));
    s.pause("Press any key to return to the menu.");
    s.line(format!("chain --replace --autofree {menu_url} || exit 1"));
    s.finish()
}

fn notice(plan: &NoticePlan) -> String {
    let mut s = Script::new();
    s.forget_sign_in();
    for line in &plan.lines {
        let text = s.text(line);
        s.line(format!("echo -- {text}"));
    }
    s.pause("Press any key to continue.");
    s.label("pxc_next");
    s.chain(&plan.next_url, "pxc_failed");
    s.label("pxc_failed");
    s.line("echo The server could not be reached; trying again in 10 seconds.");
    s.line("sleep 10 ||");
    s.line("goto pxc_next");
    s.finish()
}
