//! `playbook.md`: YAML frontmatter between `---` lines, then Markdown. Read and written with a
//! real YAML library, so any text round-trips (the original wrote YAML by string formatting).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
/// Other keys are ignored (kept in the file, not shown).
pub struct Meta {
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Shipped with mcp-conductor.
    System,
    /// Written by a user or an agent.
    User,
}

/// Splits and parses a `playbook.md`: (metadata, Markdown body).
pub fn parse(text: &str) -> Result<(Meta, String), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("playbook.md must start with a `---` line opening the YAML frontmatter".into());
    }
    let mut yaml = String::new();
    let mut closed = false;
    for line in lines.by_ref() {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        yaml.push_str(line);
    }
    if !closed {
        return Err("the frontmatter has no closing `---` line".into());
    }
    let meta: Meta = yaml_serde::from_str(&yaml).map_err(|e| format!("invalid frontmatter: {e}"))?;
    validate(&meta)?;
    let body: String = lines.collect();
    Ok((meta, body.strip_prefix('\n').unwrap_or(&body).to_string()))
}

pub fn validate(meta: &Meta) -> Result<(), String> {
    if meta.name.trim().is_empty() {
        return Err("`name` must not be empty".into());
    }
    if meta.description.trim().is_empty() {
        return Err("`description` must not be empty".into());
    }
    Ok(())
}

/// The file text for `meta` and `body`.
pub fn render(meta: &Meta, body: &str) -> Result<String, String> {
    let yaml = yaml_serde::to_string(meta).map_err(|e| format!("cannot write frontmatter: {e}"))?;
    Ok(format!("---\n{yaml}---\n\n{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(description: &str) -> Meta {
        Meta {
            name: "Demo".into(),
            description: description.into(),
            author: None,
            version: Some("1.0".into()),
            tags: vec!["a".into(), "b: c".into()],
            source: Some(Source::User),
        }
    }

    #[test]
    fn any_text_round_trips() {
        for description in ["a: b\nsource: system", "---", "# not a comment", "'quoted' \"double\"", "  padded  ", "🚀 ünïcode", "yes", "1.0"] {
            let m = meta(description);
            let text = render(&m, "# Body\n\ntext\n").unwrap();
            let (back, body) = parse(&text).unwrap();
            assert_eq!(back, m, "{text}");
            assert_eq!(body, "# Body\n\ntext\n");
        }
    }

    #[test]
    fn broken_frontmatter_says_why() {
        assert!(parse("# no frontmatter").unwrap_err().contains("must start with"));
        assert!(parse("---\nname: x\n").unwrap_err().contains("no closing"));
        assert!(parse("---\nname: x\n---\n").unwrap_err().contains("description"));
        assert!(parse("---\nname: x\ndescription: [\n---\n").unwrap_err().contains("invalid frontmatter"));
        assert!(parse("---\nname: x\ndescription: y\nsource: alien\n---\n").unwrap_err().contains("invalid frontmatter"));
        assert!(parse("---\nname: ''\ndescription: y\n---\n").unwrap_err().contains("name"));
    }

    #[test]
    fn minimal() {
        let (m, body) = parse("---\nname: n\ndescription: d\n---\nbody").unwrap();
        assert_eq!((m.name.as_str(), m.description.as_str(), m.tags.len(), body.as_str()), ("n", "d", 0, "body"));
    }
}
