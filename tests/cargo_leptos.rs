//! The workspace's `[[workspace.metadata.leptos]]` describes the demo as it
//! is: `cargo leptos watch` and `cargo leptos build --release` read it, and
//! CI has no cargo-leptos to catch a file moved or a feature renamed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn str_of<'a>(project: &'a Value, key: &str) -> &'a str {
    project[key]
        .as_str()
        .unwrap_or_else(|| panic!("[[workspace.metadata.leptos]] has no `{key}`"))
}

#[test]
fn the_leptos_metadata_names_what_the_workspace_has() {
    let meta = metadata();
    let root = Path::new(meta["workspace_root"].as_str().expect("workspace_root"));
    let projects = meta["metadata"]["leptos"]
        .as_array()
        .expect("Cargo.toml has [[workspace.metadata.leptos]]");
    assert_eq!(projects.len(), 1, "one project: the demo");
    let project = &projects[0];

    for key in ["style-file", "assets-dir"] {
        let path = root.join(str_of(project, key));
        assert!(
            path.exists(),
            "`{key}` names {}, which is missing",
            path.display()
        );
    }

    let packages = meta["packages"].as_array().expect("packages");
    for (package_key, features_key) in [
        ("bin-package", "bin-features"),
        ("lib-package", "lib-features"),
    ] {
        let name = str_of(project, package_key);
        let package = packages
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("`{package_key}` names {name}, not a workspace package"));
        for feature in project[features_key].as_array().expect(features_key) {
            let feature = feature.as_str().expect("feature names are strings");
            assert!(
                package["features"].get(feature).is_some(),
                "`{features_key}` names {feature}, which {name} does not have"
            );
        }
    }

    let profile = str_of(project, "lib-profile-release");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains(&format!("[profile.{profile}]")),
        "`lib-profile-release` names {profile}, which Cargo.toml does not define"
    );
}
