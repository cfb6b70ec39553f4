//! `list_playbooks`, `get_playbook`, `create_playbook`: reusable code + docs under PLAYBOOKS_DIR.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use rmcp::{ErrorData, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::{Conductor, parse_arguments, schema, with_structured};
use crate::playbooks::frontmatter::{Meta, Source};
use crate::playbooks::store::{self, Listed, ListedState, NewPlaybook};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetPlaybookParams {
    /// The playbook's folder name (as listed by list_playbooks).
    pub folder_name: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreatePlaybookParams {
    /// Folder name: 1-64 letters, digits, '_' or '-'. Code imports it with importPlaybook(folder_name).
    pub folder_name: String,
    /// Display name.
    pub name: String,
    /// One-line description (any text).
    pub description: String,
    /// Markdown documentation: what it is for and how to call it.
    pub content: String,
    /// TypeScript module whose exports importPlaybook returns (checked for syntax errors first).
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Replace an existing playbook of that folder name (default false: refuse).
    #[serde(default)]
    pub overwrite: bool,
}

/// `structuredContent` of `list_playbooks`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct PlaybookList {
    pub playbooks: Vec<Listed>,
    /// PLAYBOOKS_DIR.
    pub dir: String,
}

/// `structuredContent` of `get_playbook`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct PlaybookView {
    pub folder: String,
    pub metadata: Meta,
    /// The Markdown documentation.
    pub content: String,
    /// playbook.ts, when the playbook has code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The line that imports it in run_deno_code, when it has code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<String>,
}

/// `structuredContent` of `create_playbook`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct SavedPlaybook {
    pub folder: String,
    /// The playbook's directory.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<String>,
}

fn failure(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

#[tool_router(router = playbook_router, vis = "pub(super)")]
impl Conductor {
    #[tool(
        name = "list_playbooks",
        description = "List the playbooks (reusable TypeScript + docs) that code can import with \
            `await importPlaybook(folder)`: folder, name, description, tags, has_code, source \
            (system|user). Broken ones are listed with the reason. Read one with get_playbook.",
        output_schema = schema::output::<PlaybookList>()
    )]
    async fn list_playbooks(&self) -> Result<CallToolResult, ErrorData> {
        let listed = match self.playbooks.list() {
            Ok(listed) => listed,
            Err(e) => return Ok(failure(e)),
        };
        let mut text = String::new();
        for p in &listed {
            match &p.state {
                ListedState::Ok { name, description, tags, has_code, source } => {
                    let code = if *has_code { ", code" } else { "" };
                    let tags = if tags.is_empty() { String::new() } else { format!(" [{}]", tags.join(", ")) };
                    let source = if *source == Source::System { "system" } else { "user" };
                    text.push_str(&format!("{}: {name} - {description}{tags} ({source}{code})\n", p.folder));
                }
                ListedState::Broken { error, .. } => text.push_str(&format!("{}: BROKEN - {error}\n", p.folder)),
            }
        }
        if listed.is_empty() {
            text.push_str(&format!("No playbooks in {}.\n", self.playbooks.dir().display()));
        }
        text.push_str("Import one in run_deno_code with: const pb = await importPlaybook(\"<folder>\");");
        let list = PlaybookList { playbooks: listed, dir: self.playbooks.dir().display().to_string() };
        Ok(with_structured(text, &list))
    }

    #[tool(
        name = "get_playbook",
        description = "A playbook's metadata, Markdown documentation, TypeScript source (if any) and the \
            exact importPlaybook line to use in run_deno_code.",
        input_schema = schema::input::<GetPlaybookParams>(),
        output_schema = schema::output::<PlaybookView>()
    )]
    async fn get_playbook(&self, arguments: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: GetPlaybookParams = parse_arguments("get_playbook", arguments)?;
        let playbook = match self.playbooks.get(&params.folder_name) {
            Ok(p) => p,
            Err(e) => return Ok(failure(e)),
        };
        let import = playbook.code.as_ref().map(|_| store::import_line(&playbook.folder));
        let mut text = format!("# {} ({})\n{}\n\n{}", playbook.meta.name, playbook.folder, playbook.meta.description, playbook.body);
        if let (Some(code), Some(import)) = (&playbook.code, &import) {
            text.push_str(&format!("\n\n## Code (playbook.ts)\n\n```ts\n{code}\n```\n\nUse it with:\n{import}"));
        }
        let view = PlaybookView { folder: playbook.folder, metadata: playbook.meta, content: playbook.body, code: playbook.code, import };
        Ok(with_structured(text, &view))
    }

    #[tool(
        name = "create_playbook",
        description = "Save a playbook: Markdown docs plus optional TypeScript code that later executions \
            import with `await importPlaybook(folder_name)`. Refuses to replace an existing one unless \
            overwrite is true; the code is checked for syntax errors first.",
        input_schema = schema::input::<CreatePlaybookParams>(),
        output_schema = schema::output::<SavedPlaybook>()
    )]
    async fn create_playbook(&self, arguments: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: CreatePlaybookParams = parse_arguments("create_playbook", arguments)?;
        let folder = params.folder_name.clone();
        let has_code = params.code.is_some();
        let new = NewPlaybook {
            folder: params.folder_name,
            meta: Meta {
                name: params.name,
                description: params.description,
                author: params.author,
                version: params.version,
                tags: params.tags.unwrap_or_default(),
                source: Some(Source::User),
            },
            content: params.content,
            code: params.code,
            overwrite: params.overwrite,
        };
        match self.playbooks.create(new) {
            Ok(path) => {
                let import = has_code.then(|| store::import_line(&folder));
                let mut text = format!("Saved playbook '{folder}' in {}.", path.display());
                if let Some(import) = &import {
                    text.push_str(&format!(" Use it with: {import}"));
                }
                Ok(with_structured(text, &SavedPlaybook { folder, path: path.display().to_string(), import }))
            }
            Err(e) => Ok(failure(format!("create_playbook: {e}"))),
        }
    }
}
