//! Checks of the files and directories the configuration names, shared by the server's startup
//! and `mcp-conductor doctor`. A problem that would only show up at run time (every import
//! failing, `mcpFactory` finding no servers) is found here, before the first call, and names
//! the variable to fix.

use std::path::Path;

use crate::config::Config;
use crate::packages::{ImportMapSource, Manifest, Packages};
use crate::proxy::config::{ConfigSource, ProxyConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The server refuses to start.
    Error,
    /// The server starts and logs it.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    fn error(message: String) -> Finding {
        Finding { severity: Severity::Error, message }
    }

    fn warning(message: String) -> Finding {
        Finding { severity: Severity::Warning, message }
    }
}

/// Every check; `config` has its workspace prepared ([`Config::prepare_workspace`]).
pub fn run(config: &Config) -> Vec<Finding> {
    let mut findings = Vec::new();
    upstream_config(config, &mut findings);
    // Read once (package.json and the import map) for both checks below.
    let manifest = Packages::new(config.packages.dir.clone(), config.packages.import_map.clone()).manifest();
    import_map(config, &manifest, &mut findings);
    packages(config, &manifest, &mut findings);
    writable_dirs(config, &mut findings);
    findings
}

/// The upstream servers' file: named but missing, unreadable or not JSON is an error (`mcpFactory`
/// would report no servers); one bad entry is a warning (the others work).
fn upstream_config(config: &Config, findings: &mut Vec<Finding>) {
    let source = &config.proxy.source;
    let Some(path) = source.path() else { return };
    if let ConfigSource::Variable(var, _) = source
        && !path.exists()
    {
        findings.push(Finding::error(format!(
            "{var}={}: no such file. Create it (e.g. {{\"mcpServers\": {{}}}}) or unset {var}",
            path.display()
        )));
        return;
    }
    if !path.exists() {
        return;
    }
    let named = match source {
        ConfigSource::Variable(var, _) => format!("{} (from {var})", path.display()),
        ConfigSource::Files(_) => format!("{} (MCP_CONDUCTOR_MCP_CONFIG's default)", path.display()),
    };
    let parsed = ProxyConfig::load(&path);
    if let Some(error) = parsed.file_error {
        findings.push(Finding::error(format!(
            "the upstream server config {named} is unusable: {error}. Fix the file: it has the MCP clients' \
             format, {{\"mcpServers\": {{\"name\": {{\"command\": \"...\", \"args\": []}}}}}}"
        )));
        return;
    }
    for entry in parsed.entries {
        if let Err(e) = entry.spec {
            findings.push(Finding::warning(format!("{named}: server '{}' is unusable: {e}", entry.name)));
        }
    }
}

/// An import map named by `MCP_CONDUCTOR_IMPORT_MAP` must exist; any import map in use must parse.
fn import_map(config: &Config, manifest: &Manifest, findings: &mut Vec<Finding>) {
    let settings = &config.packages;
    if let ImportMapSource::Explicit(path) = &settings.import_map
        && !path.exists()
    {
        findings.push(Finding::error(format!(
            "MCP_CONDUCTOR_IMPORT_MAP={}: no such file. Create it (e.g. {{\"imports\": {{}}}}) or unset the variable",
            path.display()
        )));
        return;
    }
    if let Some(problem) = &manifest.import_map_problem {
        let var = match settings.import_map {
            ImportMapSource::Explicit(_) => "MCP_CONDUCTOR_IMPORT_MAP",
            ImportMapSource::Default => "MCP_CONDUCTOR_IMPORT_MAP's default",
        };
        findings.push(Finding::error(format!("{problem} ({var}): every import through it would fail")));
    }
}

/// `<packages>/package.json` must parse; listed packages should be installed.
fn packages(config: &Config, manifest: &Manifest, findings: &mut Vec<Finding>) {
    let dir = &config.packages.dir;
    if !dir.join("package.json").exists() {
        return;
    }
    if let Some(problem) = &manifest.problem {
        findings.push(Finding::error(format!(
            "MCP_CONDUCTOR_PACKAGES_DIR: {problem}; code could import no package. Fix it, or run \
             `mcp-conductor packages add <name>` after removing it"
        )));
        return;
    }
    for name in manifest.allowed.keys() {
        if crate::packages::installed_version(&dir.join("node_modules"), name).is_none() {
            findings.push(Finding::warning(format!(
                "MCP_CONDUCTOR_PACKAGES_DIR: '{name}' is in {} but not installed: run `mcp-conductor packages add {name}`",
                dir.join("package.json").display()
            )));
        }
    }
}

/// Directories the server writes itself (playbooks) or that code is expected to write.
fn writable_dirs(config: &Config, findings: &mut Vec<Finding>) {
    if !writable(&config.workspace) {
        findings.push(Finding::warning(format!(
            "MCP_CONDUCTOR_WORKSPACE={} is not writable by the server's user (uid {}): code cannot create files \
             there, whatever MCP_CONDUCTOR_RUN_ARGS allows. Fix its owner or mode, or point the variable elsewhere",
            config.workspace.display(),
            current_uid()
        )));
    }
    let playbooks = &config.playbooks_dir;
    let existing = playbooks.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
    if !writable(existing) {
        findings.push(Finding::warning(format!(
            "the playbooks directory {} (<MCP_CONDUCTOR_ROOT>/playbooks) is not writable by the server's user: \
             create_playbook will fail and the default playbooks cannot be installed. Set MCP_CONDUCTOR_ROOT to a \
             writable directory",
            playbooks.display()
        )));
    }
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path; access() only reads it.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK) == 0 }
}

fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path, vars: &[(&str, String)]) -> Config {
        let mut all: Vec<(String, String)> = vec![
            ("HOME".into(), dir.join("home").display().to_string()),
            ("MCP_CONDUCTOR_WORKSPACE".into(), dir.join("workspace").display().to_string()),
        ];
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut config = Config::from_lookup(|k| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap();
        config.prepare_workspace().unwrap();
        config
    }

    fn messages(findings: &[Finding], severity: Severity) -> Vec<String> {
        findings.iter().filter(|f| f.severity == severity).map(|f| f.message.clone()).collect()
    }

    #[test]
    fn a_default_setup_has_no_findings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run(&config_in(dir.path(), &[])), []);
    }

    #[test]
    fn named_files_that_do_not_exist_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json").display().to_string();
        let config = config_in(
            dir.path(),
            &[("MCP_CONDUCTOR_MCP_CONFIG", missing.clone()), ("MCP_CONDUCTOR_IMPORT_MAP", missing.clone())],
        );
        let errors = messages(&run(&config), Severity::Error);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].starts_with(&format!("MCP_CONDUCTOR_MCP_CONFIG={missing}: no such file")), "{}", errors[0]);
        assert!(errors[1].starts_with(&format!("MCP_CONDUCTOR_IMPORT_MAP={missing}: no such file")), "{}", errors[1]);
    }

    #[test]
    fn a_malformed_upstream_config_is_an_error_and_a_bad_entry_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mcp.json");
        let vars = [("MCP_CONDUCTOR_MCP_CONFIG", file.display().to_string())];
        std::fs::write(&file, "{\"mcpServers\": {\"a\": {\"command\": \"x\"},}").unwrap();
        let errors = messages(&run(&config_in(dir.path(), &vars)), Severity::Error);
        assert!(errors.len() == 1 && errors[0].contains("is unusable: not valid JSON"), "{errors:#?}");
        assert!(errors[0].contains("MCP_CONDUCTOR_MCP_CONFIG"), "{errors:#?}");

        std::fs::write(&file, r#"{"mcpServers": {"good": {"command": "x"}, "bad": {"args": []}}}"#).unwrap();
        let findings = run(&config_in(dir.path(), &vars));
        assert_eq!(messages(&findings, Severity::Error), Vec::<String>::new());
        let warnings = messages(&findings, Severity::Warning);
        assert!(warnings.len() == 1 && warnings[0].contains("server 'bad' is unusable"), "{warnings:#?}");
    }

    #[test]
    fn the_default_upstream_config_is_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path(), &[]);
        std::fs::write(config.root.join("mcp.json"), "not json").unwrap();
        let errors = messages(&run(&config), Severity::Error);
        assert!(errors.len() == 1 && errors[0].contains("MCP_CONDUCTOR_MCP_CONFIG's default"), "{errors:#?}");
    }

    #[test]
    fn a_broken_import_map_or_package_json_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("map.json");
        std::fs::write(&map, "{\"imports\": ").unwrap();
        let config = config_in(dir.path(), &[("MCP_CONDUCTOR_IMPORT_MAP", map.display().to_string())]);
        std::fs::create_dir_all(&config.packages.dir).unwrap();
        std::fs::write(config.packages.dir.join("package.json"), r#"{"dependencies": {"zod": "^3"}}"#).unwrap();
        let findings = run(&config);
        let errors = messages(&findings, Severity::Error);
        assert!(errors.len() == 1 && errors[0].contains("(MCP_CONDUCTOR_IMPORT_MAP)"), "{errors:#?}");
        let warnings = messages(&findings, Severity::Warning);
        assert!(warnings.len() == 1 && warnings[0].contains("'zod' is in") && warnings[0].contains("packages add zod"), "{warnings:#?}");

        std::fs::write(config.packages.dir.join("package.json"), "{").unwrap();
        let errors = messages(&run(&config), Severity::Error);
        assert!(errors.iter().any(|e| e.starts_with("MCP_CONDUCTOR_PACKAGES_DIR: ")), "{errors:#?}");
    }
}
