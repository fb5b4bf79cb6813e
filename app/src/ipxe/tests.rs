//! The renderer against exact scripts, and against iPXE's own reading of them for any input.

use super::{
    check::{assert_only_intended_references, shape, tame},
    escape,
    plan::*,
    render,
    tokenize::ClientMemory,
};
use proptest::prelude::*;

const BASE: &str = "http://10.0.2.2:8080";

fn url(path: &str) -> ServerUrl {
    ServerUrl::new(BASE, path)
}

#[test]
fn the_entry_script_hands_over_to_the_login_with_the_client_named() {
    let script = render(&Plan::Entry {
        login_url: url("ipxe/login"),
    });
    assert_eq!(
        script,
        "#!ipxe
echo PXE Cloud: connecting...
:pxc_retry
chain --replace --autofree http://10.0.2.2:8080/ipxe/login?mac=${mac:hexhyp}&uuid=${uuid}&platform=${platform}&arch=${buildarch} || goto pxc_failed
:pxc_failed
echo PXE Cloud cannot be reached; trying again in 10 seconds (Ctrl-C for the shell).
sleep 10 || shell
goto pxc_retry
"
    );
}

#[test]
fn the_login_posts_where_it_can_and_falls_back_to_hex_in_the_url() {
    let script = render(&Plan::Login(LoginPlan {
        notice: Some("Invalid username or password.".into()),
        session_url: url("ipxe/session?mac=52-54-00-12-34-56"),
    }));
    assert_eq!(
        script,
        "#!ipxe
set pxc-t0:hex 49:6e:76:61:6c:69:64:20:75:73:65:72:6e:61:6d:65:20:6f:72:20:70:61:73:73:77:6f:72:64:2e
isset ${pxc-posted} && params --name pxc-login --delete ||
clear pxc-posted
clear password
clear pxc-p
echo -- ${pxc-t0:string}
prompt --timeout 5000 Press any key to continue. ||
:pxc_login
login || goto pxc_cancelled
params --name pxc-login || goto pxc_get
set pxc-posted 1
param --params pxc-login username ${username:hexraw}
param --params pxc-login password ${password:hexraw}
clear password
chain --replace --autofree http://10.0.2.2:8080/ipxe/session?mac=52-54-00-12-34-56##params=pxc-login || goto pxc_failed
:pxc_get
set pxc-p ${password:hexraw}
clear password
chain --replace --autofree http://10.0.2.2:8080/ipxe/session?mac=52-54-00-12-34-56&username=${username:hexraw}&password=${pxc-p} || goto pxc_failed
:pxc_failed
isset ${pxc-posted} && params --name pxc-login --delete ||
clear pxc-posted
clear pxc-p
echo Signing in failed: the server could not be reached.
prompt --timeout 10000 Press any key to try again. ||
goto pxc_login
:pxc_cancelled
menu -- Sign-in cancelled
item pxc_login Sign in again
item pxc_exit Exit to the firmware
choose pxc_choice || goto pxc_login
goto ${pxc_choice}
:pxc_exit
exit 1
"
    );
}

#[test]
fn a_choice_lists_options_under_generated_labels_with_back_and_sign_out() {
    let script = render(&Plan::Choice(ChoicePlan {
        title: "Choose a group".into(),
        options: vec![
            ChoiceOption {
                text: "Staff".into(),
                url: url("ipxe/s/abc/group/1"),
            },
            ChoiceOption {
                text: "Students".into(),
                url: url("ipxe/s/abc/group/2"),
            },
        ],
        back_url: Some(url("ipxe/s/abc/start")),
        logout_url: url("ipxe/s/abc/logout"),
    }));
    assert_eq!(
        script,
        "#!ipxe
set pxc-t0:hex 43:68:6f:6f:73:65:20:61:20:67:72:6f:75:70
set pxc-t1:hex 53:74:61:66:66
set pxc-t2:hex 53:74:75:64:65:6e:74:73
isset ${pxc-posted} && params --name pxc-login --delete ||
clear pxc-posted
clear username
clear password
clear pxc-p
:pxc_menu
menu -- ${pxc-t0:string}
item pxc_o1 ${pxc-t1:string}
item pxc_o2 ${pxc-t2:string}
item --gap --
item pxc_back Back
item pxc_logout Sign out
choose pxc_choice || goto pxc_escape
goto ${pxc_choice}
:pxc_o1
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/group/1 || goto pxc_failed
:pxc_o2
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/group/2 || goto pxc_failed
:pxc_back
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/start || goto pxc_failed
:pxc_logout
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/logout || goto pxc_failed
:pxc_escape
goto pxc_back
:pxc_failed
echo The server could not be reached.
prompt --timeout 10000 Press any key to return to the menu. ||
goto pxc_menu
"
    );
}

fn sample_menu() -> MenuPlan {
    MenuPlan {
        title: "Lab".into(),
        background_url: Some("http://img.lan/bg.png".into()),
        timeout_secs: Some(5),
        lines: vec![
            MenuLine::Gap {
                text: "Installers".into(),
            },
            MenuLine::Entry {
                text: "Debian".into(),
                url: url("ipxe/s/abc/boot/2/1"),
                is_default: true,
            },
            MenuLine::Entry {
                text: "Local disk".into(),
                url: url("ipxe/s/abc/boot/2/2"),
                is_default: false,
            },
        ],
        back_url: None,
        logout_url: url("ipxe/s/abc/logout"),
    }
}

#[test]
fn a_menu_shows_gaps_entries_a_default_and_a_timeout() {
    let script = render(&Plan::Menu(sample_menu()));
    assert_eq!(
        script,
        "#!ipxe
set pxc-t0:hex 4c:61:62
set pxc-t1:hex 49:6e:73:74:61:6c:6c:65:72:73
set pxc-t2:hex 44:65:62:69:61:6e
set pxc-t3:hex 4c:6f:63:61:6c:20:64:69:73:6b
isset ${pxc-posted} && params --name pxc-login --delete ||
clear pxc-posted
clear username
clear password
clear pxc-p
console --picture http://img.lan/bg.png --keep ||
:pxc_menu
menu -- ${pxc-t0:string}
item --gap -- ${pxc-t1:string}
item pxc_e2 ${pxc-t2:string}
item pxc_e3 ${pxc-t3:string}
item --gap --
item pxc_logout Sign out
choose --default pxc_e2 --timeout 5000 pxc_choice || goto pxc_escape
goto ${pxc_choice}
:pxc_e2
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/boot/2/1 || goto pxc_failed
:pxc_e3
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/boot/2/2 || goto pxc_failed
:pxc_logout
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/logout || goto pxc_failed
:pxc_escape
goto pxc_menu
:pxc_failed
echo The server could not be reached.
prompt --timeout 10000 Press any key to return to the menu. ||
goto pxc_menu
"
    );
}

fn boot_script(step: BootStep) -> String {
    render(&Plan::Boot(BootPlan {
        title: "Debian".into(),
        step,
        menu_url: url("ipxe/s/abc/group/2"),
    }))
}

const BOOT_HEAD: &str = "#!ipxe\nset pxc-t0:hex 44:65:62:69:61:6e\nisset ${pxc-posted} && params --name pxc-login --delete ||\nclear pxc-posted\nclear username\nclear password\nclear pxc-p\n";
const BOOT_FAILED: &str = ":pxc_failed
echo -- Could not boot ${pxc-t0:string}
prompt --timeout 10000 Press any key to return to the menu. ||
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/group/2 || exit 1
";

#[test]
fn a_kernel_boots_with_its_initrd_named_for_uefi_and_its_arguments() {
    let script = boot_script(BootStep::KernelInitrd {
        kernel_url: "http://boot.lan/linux".into(),
        initrd_url: Some("http://boot.lan/initrd.gz".into()),
        args: vec!["console=ttyS0".into(), "quiet".into()],
    });
    assert_eq!(
        script,
        format!(
            "{BOOT_HEAD}echo -- Booting ${{pxc-t0:string}}
kernel http://boot.lan/linux initrd=initrd.img console=ttyS0 quiet || goto pxc_failed
initrd --name initrd.img http://boot.lan/initrd.gz || goto pxc_failed
boot || goto pxc_failed
{BOOT_FAILED}"
        )
    );
}

#[test]
fn a_kernel_without_an_initrd_boots_alone() {
    let script = boot_script(BootStep::KernelInitrd {
        kernel_url: "http://boot.lan/memtest.efi".into(),
        initrd_url: None,
        args: vec![],
    });
    assert_eq!(
        script,
        format!(
            "{BOOT_HEAD}echo -- Booting ${{pxc-t0:string}}
kernel http://boot.lan/memtest.efi || goto pxc_failed
boot || goto pxc_failed
{BOOT_FAILED}"
        )
    );
}

#[test]
fn an_iso_sanboots_over_http() {
    let script = boot_script(BootStep::Sanboot {
        iso_url: "http://boot.lan/live.iso".into(),
    });
    assert_eq!(
        script,
        format!(
            "{BOOT_HEAD}echo -- Booting ${{pxc-t0:string}}
sanboot --no-describe http://boot.lan/live.iso || goto pxc_failed
{BOOT_FAILED}"
        )
    );
}

#[test]
fn memdisk_runs_on_bios_and_explains_itself_on_uefi() {
    let script = boot_script(BootStep::Memdisk {
        iso_url: "http://boot.lan/tool.iso".into(),
        memdisk_url: url("ipxe/memdisk"),
    });
    assert_eq!(
        script,
        format!(
            "{BOOT_HEAD}iseq ${{platform}} pcbios || goto pxc_not_bios
echo -- Booting ${{pxc-t0:string}}
kernel http://10.0.2.2:8080/ipxe/memdisk iso raw || goto pxc_failed
initrd http://boot.lan/tool.iso || goto pxc_failed
boot || goto pxc_failed
:pxc_not_bios
echo This ISO boots with memdisk, which works only on BIOS machines; this one boots with UEFI.
prompt --timeout 10000 Press any key to return to the menu. ||
chain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/group/2 || exit 1
{BOOT_FAILED}"
        )
    );
}

#[test]
fn the_local_disk_is_sanbooted_on_bios_and_left_to_the_firmware_on_uefi() {
    let script = boot_script(BootStep::LocalDisk);
    assert_eq!(
        script,
        format!(
            "{BOOT_HEAD}iseq ${{platform}} pcbios || goto pxc_not_bios
echo Booting from the local disk
sanboot --no-describe --drive 0x80 || goto pxc_failed
:pxc_not_bios
echo Leaving iPXE for the next boot device
exit 0
{BOOT_FAILED}"
        )
    );
}

#[test]
fn actions_run_their_command_and_return_to_the_menu_on_failure() {
    for (step, command) in [
        (BootStep::Reboot, "reboot || goto pxc_failed\n"),
        (BootStep::PowerOff, "poweroff || goto pxc_failed\n"),
        (BootStep::Exit, "exit 0\n"),
        (
            BootStep::Chain {
                url: "http://other.lan/menu.ipxe".into(),
            },
            "chain --replace --autofree http://other.lan/menu.ipxe || goto pxc_failed\n",
        ),
        (
            BootStep::Shell,
            "echo Type exit to return to the menu.\nshell ||\nchain --replace --autofree http://10.0.2.2:8080/ipxe/s/abc/group/2 || exit 1\n",
        ),
    ] {
        assert_eq!(
            boot_script(step),
            format!("{BOOT_HEAD}{command}{BOOT_FAILED}")
        );
    }
}

#[test]
fn a_notice_pauses_then_moves_on() {
    let script = render(&Plan::Notice(NoticePlan {
        lines: vec!["Your session has expired.".into()],
        next_url: url("ipxe/login"),
    }));
    assert_eq!(
        script,
        "#!ipxe
set pxc-t0:hex 59:6f:75:72:20:73:65:73:73:69:6f:6e:20:68:61:73:20:65:78:70:69:72:65:64:2e
isset ${pxc-posted} && params --name pxc-login --delete ||
clear pxc-posted
clear username
clear password
clear pxc-p
echo -- ${pxc-t0:string}
prompt --timeout 10000 Press any key to continue. ||
:pxc_next
chain --replace --autofree http://10.0.2.2:8080/ipxe/login || goto pxc_failed
:pxc_failed
echo The server could not be reached; trying again in 10 seconds.
sleep 10 ||
goto pxc_next
"
    );
}

#[test]
fn hostile_titles_are_shown_as_text_and_run_nothing() {
    let mut menu = sample_menu();
    menu.title = "Ubuntu || shell".into();
    menu.lines[1] = MenuLine::Entry {
        text: "x ${password} \\".into(),
        url: url("ipxe/s/abc/boot/2/1"),
        is_default: true,
    };
    menu.lines[2] = MenuLine::Entry {
        text: "#evil\nchain http://evil/".into(),
        url: url("ipxe/s/abc/boot/2/2"),
        is_default: false,
    };
    let script = render(&Plan::Menu(menu));
    assert!(script.contains(&format!(
        "set pxc-t0:hex {}\n",
        escape::hex_value("Ubuntu || shell")
    )));
    assert!(script.contains(&format!(
        "set pxc-t2:hex {}\n",
        escape::hex_value("x $(password} \\")
    )));
    assert!(script.contains(&format!(
        "set pxc-t3:hex {}\n",
        escape::hex_value("#evil chain http://evil/")
    )));
    assert_eq!(shape(&script), shape(&render(&Plan::Menu(sample_menu()))));
}

/// Any string at all, weighted towards what iPXE treats specially.
/// A client's memory after it signed in with the login script of `plan`: where the sign-in
/// went, and what it kept.
fn signed_in(has_params: bool) -> (Vec<String>, ClientMemory) {
    let mut client = ClientMemory::new(has_params);
    let login = render(&Plan::Login(LoginPlan {
        notice: None,
        session_url: url("ipxe/session?mac=52-54-00-12-34-56"),
    }));
    let handover = client.run(&login).expect("the login hands over");
    (handover, client)
}

#[test]
fn a_chain_entry_cannot_collect_the_sign_in_credentials() {
    // An organization admin's chain entry, the default with a one-second timeout, leads to a
    // script that POSTs `##params` (or `##params=pxc-login`) elsewhere: nothing may be left.
    let mut menu = sample_menu();
    menu.background_url = None;
    menu.lines = vec![MenuLine::Entry {
        text: "Tools".into(),
        url: url("ipxe/s/abc/boot/2/1"),
        is_default: true,
    }];
    menu.timeout_secs = Some(1);
    let tools = render(&Plan::Boot(BootPlan {
        title: "Tools".into(),
        step: BootStep::Chain {
            url: "http://evil.lan/x.ipxe".into(),
        },
        menu_url: url("ipxe/s/abc/group/2"),
    }));
    for has_params in [true, false] {
        let (post, mut client) = signed_in(has_params);
        if has_params {
            assert!(
                post.iter().any(|w| w.ends_with("##params=pxc-login")),
                "{post:?}"
            );
            assert_eq!(client.params["pxc-login"], ["username", "password"]);
        } else {
            assert!(
                post.iter().any(|w| w.contains("&password=${pxc-p}")),
                "{post:?}"
            );
        }
        assert!(client.holds_credentials());
        assert_eq!(
            client.run(&render(&Plan::Menu(menu.clone()))).unwrap()[0],
            "menu"
        );
        assert!(!client.holds_credentials(), "{client:?}");
        let handover = client.run(&tools).unwrap();
        assert_eq!(handover[..3], ["chain", "--replace", "--autofree"]);
        assert!(!client.holds_credentials(), "{client:?}");
    }
}

#[test]
fn the_sign_in_form_starts_empty_for_the_next_person_at_the_machine() {
    for has_params in [true, false] {
        let (_, mut client) = signed_in(has_params);
        client.run(&render(&Plan::Menu(sample_menu())));
        let signed_out = render(&Plan::Login(LoginPlan {
            notice: Some("Signed out.".into()),
            session_url: url("ipxe/session"),
        }));
        assert_eq!(
            client.run_until(&signed_out, &["login"]),
            Some(vec!["login".into()])
        );
        assert!(!client.holds_credentials(), "{client:?}");
    }
}

#[test]
fn a_wrong_password_is_forgotten_and_the_username_kept_for_the_retry() {
    for has_params in [true, false] {
        let (_, mut client) = signed_in(has_params);
        let again = render(&Plan::Login(LoginPlan {
            notice: Some("Invalid username or password.".into()),
            session_url: url("ipxe/session"),
        }));
        client.run_until(&again, &["login"]);
        assert!(client.params.is_empty(), "{client:?}");
        assert!(!client.settings.contains("password") && !client.settings.contains("pxc-p"));
        assert!(client.settings.contains("username"));
    }
}

#[test]
fn a_build_without_params_never_runs_params_after_the_sign_in() {
    // Debian's builds print "params: command not found" for every such line.
    let (_, mut client) = signed_in(false);
    let handover = client.run_until(&render(&Plan::Menu(sample_menu())), &["params", "param"]);
    assert_eq!(handover.unwrap()[0], "console");
    assert!(!client.holds_credentials(), "{client:?}");
}

fn hostile() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "||",
        "&&",
        ";",
        "#",
        "${",
        "}",
        "\\",
        "\n",
        "\r",
        " ",
        "\t",
        "$",
        "{",
        "-",
        "--gap",
        "${password}",
        ":label",
        "é",
        "\0",
    ]);
    prop::collection::vec(
        prop_oneof![3 => special.prop_map(str::to_owned), 2 => any::<String>()],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn server_url() -> impl Strategy<Value = ServerUrl> {
    (hostile(), hostile()).prop_map(|(base, path)| ServerUrl::new(&base, &path))
}

fn boot_step() -> impl Strategy<Value = BootStep> {
    prop_oneof![
        (
            hostile(),
            prop::option::of(hostile()),
            prop::collection::vec(hostile(), 0..5)
        )
            .prop_map(|(kernel_url, initrd_url, args)| BootStep::KernelInitrd {
                kernel_url,
                initrd_url,
                args
            }),
        hostile().prop_map(|iso_url| BootStep::Sanboot { iso_url }),
        (hostile(), server_url()).prop_map(|(iso_url, memdisk_url)| BootStep::Memdisk {
            iso_url,
            memdisk_url
        }),
        Just(BootStep::LocalDisk),
        Just(BootStep::Reboot),
        Just(BootStep::PowerOff),
        Just(BootStep::Shell),
        Just(BootStep::Exit),
        hostile().prop_map(|url| BootStep::Chain { url }),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    let menu_line = prop_oneof![
        (hostile(), server_url(), any::<bool>()).prop_map(|(text, url, is_default)| {
            MenuLine::Entry {
                text,
                url,
                is_default,
            }
        }),
        hostile().prop_map(|text| MenuLine::Gap { text }),
    ];
    prop_oneof![
        server_url().prop_map(|login_url| Plan::Entry { login_url }),
        (prop::option::of(hostile()), server_url()).prop_map(|(notice, session_url)| Plan::Login(
            LoginPlan {
                notice,
                session_url
            }
        )),
        (
            hostile(),
            prop::collection::vec((hostile(), server_url()), 0..6),
            prop::option::of(server_url()),
            server_url()
        )
            .prop_map(
                |(title, options, back_url, logout_url)| Plan::Choice(ChoicePlan {
                    title,
                    options: options
                        .into_iter()
                        .map(|(text, url)| ChoiceOption { text, url })
                        .collect(),
                    back_url,
                    logout_url,
                })
            ),
        (
            hostile(),
            prop::option::of(hostile()),
            prop::option::of(-5i32..100),
            prop::collection::vec(menu_line, 0..8),
            prop::option::of(server_url()),
            server_url()
        )
            .prop_map(
                |(title, background_url, timeout_secs, lines, back_url, logout_url)| {
                    Plan::Menu(MenuPlan {
                        title,
                        background_url,
                        timeout_secs,
                        lines,
                        back_url,
                        logout_url,
                    })
                }
            ),
        (hostile(), boot_step(), server_url()).prop_map(|(title, step, menu_url)| Plan::Boot(
            BootPlan {
                title,
                step,
                menu_url
            }
        )),
        (prop::collection::vec(hostile(), 0..4), server_url())
            .prop_map(|(lines, next_url)| Plan::Notice(NoticePlan { lines, next_url })),
    ]
}

/// The number of cases, raised by `PXECLOUD_PROPTEST_CASES` for long runs.
fn cases() -> u32 {
    std::env::var("PXECLOUD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn user_input_never_changes_what_a_script_runs(plan in plan()) {
        let script = render(&plan);
        prop_assert_eq!(shape(&script), shape(&render(&tame(&plan))));
        assert_only_intended_references(&script);
    }

    #[test]
    fn no_script_after_the_sign_in_leaves_the_credentials_reachable(plan in plan(), has_params in any::<bool>()) {
        prop_assume!(!matches!(plan, Plan::Entry { .. }));
        let (_, mut client) = signed_in(has_params);
        let prompt: &[&str] = if matches!(plan, Plan::Login(_)) { &["login"] } else { &[] };
        let handover = client.run_until(&render(&plan), prompt);
        prop_assert!(client.params.is_empty(), "{:?} after {:?}", client, handover);
        for setting in ["password", "pxc-p"] {
            prop_assert!(!client.settings.contains(setting), "{} left: {:?}", setting, handover);
        }
        // Only a new sign-in prompt keeps the name typed, for the person retrying.
        if !matches!(plan, Plan::Login(_)) {
            prop_assert!(!client.holds_credentials(), "{:?} after {:?}", client, handover);
        }
    }

    #[test]
    fn shown_text_never_holds_an_expansion(text in hostile()) {
        let shown = escape::display_text(&text);
        prop_assert!(!shown.contains("${"), "expansion left in {:?}", shown);
        prop_assert!(!shown.is_empty());
        prop_assert!(!shown.contains(['\n', '\r']));
    }

    #[test]
    fn url_and_argument_words_are_single_literal_words(text in hostile()) {
        let url = escape::url_word(&text);
        prop_assert!(url.starts_with(|c: char| c.is_ascii_alphanumeric()));
        let arg = escape::arg_word(&text);
        prop_assert!(!arg.starts_with('#'));
        for word in [url, arg] {
            prop_assert!(!word.is_empty());
            prop_assert!(!word.contains(|c: char| c.is_whitespace() || c.is_control()));
            prop_assert!(!word.contains(['$', '{', '}', '\\']), "special character in {:?}", word);
            prop_assert!(!matches!(word.as_str(), "||" | "&&" | ";"));
        }
    }
}
