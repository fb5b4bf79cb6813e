//! The shipped systemd unit (docs/systemd/pxecloud.service) is one systemd accepts, runs
//! this binary's `serve`, and holds the capability the boot server's ports need.

use std::process::Command;

#[test]
fn the_systemd_unit_is_valid_and_grants_only_the_port_capability() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/systemd/pxecloud.service"
    ))
    .unwrap();
    assert!(unit.contains("\nExecStart=/usr/local/bin/pxecloud serve\n"));
    assert!(unit.contains("\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"));
    assert!(unit.contains("\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"));
    assert!(unit.contains("\nNoNewPrivileges=yes\n"));

    // `verify` checks that ExecStart can run: point it at this build.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pxecloud.service");
    let here = unit.replace("/usr/local/bin/pxecloud", env!("CARGO_BIN_EXE_pxecloud"));
    std::fs::write(&path, here).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian's systemd package) runs");
    let complaints = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{complaints}");
    // It also exits 0 on lines it ignores; any complaint about the unit fails the test.
    assert!(!complaints.contains("pxecloud.service"), "{complaints}");

    // A broken unit is caught the same way, so the check above can fail.
    std::fs::write(&path, "[Service]\nExecStart=/nonexistent/pxecloud serve\n").unwrap();
    let broken = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!broken.status.success());
}
