//! User code → an ES module the sandbox can run, by real parsing (deno_ast / swc), not text
//! heuristics.
//!
//! The code is parsed as a TypeScript module. Its import declarations stay at module level; every
//! other statement moves into the body of an async arrow function handed to the glue's `run`
//! hook, so top-level `return` works and top-level `await` keeps working. If the last statement
//! is an expression statement it becomes `return <expr>`: that value, awaited, is the result.
//! Spans are kept, so the emitted source map points errors at the user's own lines.

use std::sync::Arc;

use super::nesting;

use deno_ast::swc::ast::{
    BlockStmtOrExpr, ClassDecl, ClassExpr, Decl, DefaultDecl, Expr, ExprStmt, FnDecl, FnExpr, Module, ModuleDecl, ModuleItem, Program,
    ReturnStmt, Stmt,
};
use deno_ast::swc::common::{DUMMY_SP, Span};
use deno_ast::swc::ecma_visit::{VisitMut, VisitMutWith};
use deno_ast::{
    EmitOptions, MediaType, ModuleSpecifier, ParseParams, SourceMapOption, TranspileModuleOptions,
    TranspileOptions,
};

/// The wrapper every execution's statements are placed into; `js/conductor.js` installs the hook.
const WRAPPER: &str = concat!("export default ", crate::hook_call!("run(async () => {});"));

/// JavaScript ready to load, with the source map back to what the user wrote.
#[derive(Debug)]
pub struct Emitted {
    pub code: String,
    pub source_map: Option<Vec<u8>>,
}

/// A syntax error, already formatted with the user's line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

/// Parses and rewrites an execution's code (see the module docs) and transpiles it to JS.
pub fn prepare_execution(code: &str, specifier: &ModuleSpecifier) -> Result<Emitted, SyntaxError> {
    let text = normalize_source(code.into());
    nesting::on_parser_stack(|| {
        check_nesting(&text, specifier, MediaType::TypeScript)?;
        let wrapper = wrapper_item();
        let parsed = deno_ast::parse_module_with_post_process(
            params(specifier, text.clone(), MediaType::TypeScript),
            move |module, _| wrap_statements(module, wrapper),
        )
        .map_err(|e| SyntaxError(describe(&e, &text)))?;
        reject_recovered_errors(&parsed, &text, true)?;
        emit(parsed)
    })
    .unwrap_or_else(|panic| Err(SyntaxError(panic.message(specifier))))
}

/// Text nested deeper than swc can parse on its stack is a syntax error (see `nesting.rs`).
pub fn check_nesting(text: &str, specifier: &ModuleSpecifier, media_type: MediaType) -> Result<(), SyntaxError> {
    nesting::check(text, media_type).map_err(|deep| SyntaxError(locate(&deep.message(), deep.offset, specifier, text)))
}

/// CR and CRLF become LF before parsing, and leading byte-order marks are dropped. JavaScript
/// treats all three as one line break (template literals normalize them too) and U+FEFF as
/// white space, so meaning and line numbers stay; deno_ast's error formatting panics on lone CRs
/// and on a second BOM (both found by fuzzing).
fn normalize_source(text: Arc<str>) -> Arc<str> {
    let trimmed = text.trim_start_matches('\u{feff}');
    if !text.contains('\r') && trimmed.len() == text.len() {
        return text;
    }
    trimmed.replace("\r\n", "\n").replace('\r', "\n").into()
}

/// A parse diagnostic as "message at file:line:col", the source line and a caret. Formatted
/// here because deno_ast's own formatter panics on some inputs (found by fuzzing). `text` is
/// the normalized source that was parsed.
fn describe(diagnostic: &deno_ast::ParseDiagnostic, text: &str) -> String {
    let offset = diagnostic.range().start.as_byte_index(deno_ast::StartSourcePos::START_SOURCE_POS);
    locate(&diagnostic.kind().msg(), offset, diagnostic.specifier(), text)
}

/// "message at file:line:col", the source line and a caret under byte `offset` of `text`.
fn locate(message: &str, offset: usize, specifier: &ModuleSpecifier, text: &str) -> String {
    let is_break = |c: char| matches!(c, '\n' | '\u{2028}' | '\u{2029}');
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.char_indices().filter(|(_, c)| is_break(*c)).last().map_or(0, |(i, c)| i + c.len_utf8());
    let line = before.chars().filter(|c| is_break(*c)).count() + 1;
    let column = before[line_start..].chars().count() + 1;
    let line_end = text[offset..].find(is_break).map_or(text.len(), |i| offset + i);
    let source_line: String = text[line_start..line_end].chars().take(160).collect();
    let caret = format!("{}^", " ".repeat((column - 1).min(160)));
    format!("{message} at {specifier}:{line}:{column}\n\n  {source_line}\n  {caret}")
}

/// swc recovers from some syntax errors and leaves `<invalid>` nodes in the tree (found by
/// fuzzing: `!@` emitted `return !<invalid>;`). They are syntax errors here too, except a
/// top-level `return` in an execution, which the rewrite makes legal.
fn reject_recovered_errors(parsed: &deno_ast::ParsedSource, text: &str, allow_return: bool) -> Result<(), SyntaxError> {
    use deno_ast::swc::parser::error::SyntaxError as Kind;
    match parsed.diagnostics().iter().find(|d| !(allow_return && matches!(d.kind(), Kind::ReturnNotAllowed))) {
        Some(diagnostic) => Err(SyntaxError(describe(diagnostic, text))),
        None => Ok(()),
    }
}

/// Transpiles an imported module (TypeScript, JSX...) without any rewriting.
pub fn transpile_module(
    text: Arc<str>,
    specifier: &ModuleSpecifier,
    media_type: MediaType,
) -> Result<Emitted, SyntaxError> {
    let text = normalize_source(text);
    nesting::on_parser_stack(|| {
        check_nesting(&text, specifier, media_type)?;
        let parsed = deno_ast::parse_module(params(specifier, text.clone(), media_type))
            .map_err(|e| SyntaxError(describe(&e, &text)))?;
        reject_recovered_errors(&parsed, &text, false)?;
        emit(parsed)
    })
    .unwrap_or_else(|panic| Err(SyntaxError(panic.message(specifier))))
}

fn params(specifier: &ModuleSpecifier, text: Arc<str>, media_type: MediaType) -> ParseParams {
    ParseParams {
        specifier: specifier.clone(),
        text,
        media_type,
        capture_tokens: false,
        scope_analysis: false,
        maybe_syntax: None,
    }
}

fn emit(parsed: deno_ast::ParsedSource) -> Result<Emitted, SyntaxError> {
    let emitted = parsed
        .transpile(
            &TranspileOptions {
                imports_not_used_as_values: deno_ast::ImportsNotUsedAsValues::Remove,
                // TC39 decorators, lowered as `deno run` does (V8 does not parse them yet).
                decorators: deno_ast::DecoratorsTranspileOption::Ecma,
                ..Default::default()
            },
            &TranspileModuleOptions::default(),
            &EmitOptions {
                source_map: SourceMapOption::Separate,
                inline_sources: true,
                ..Default::default()
            },
        )
        .map_err(|e| SyntaxError(e.to_string()))?
        .into_source();
    Ok(Emitted {
        code: emitted.text,
        source_map: emitted.source_map.map(String::into_bytes),
    })
}

/// The parsed wrapper statement, with spans cleared so it maps to nothing in the user's code.
fn wrapper_item() -> ModuleItem {
    let specifier = ModuleSpecifier::parse(super::contract::WRAPPER_SPECIFIER).expect("valid url");
    let parsed = deno_ast::parse_module(params(&specifier, WRAPPER.into(), MediaType::JavaScript))
        .expect("the wrapper template parses");
    let Program::Module(module) = (*parsed.program()).clone() else {
        unreachable!("parse_module returns a module")
    };
    let mut item = module.body.into_iter().next().expect("one statement");
    item.visit_mut_with(&mut ClearSpans);
    item
}

struct ClearSpans;

impl VisitMut for ClearSpans {
    fn visit_mut_span(&mut self, span: &mut Span) {
        *span = DUMMY_SP;
    }
}

fn wrap_statements(module: Module, mut wrapper: ModuleItem) -> Module {
    let mut module_level = Vec::new();
    let mut body = Vec::new();
    for item in module.body {
        match item {
            ModuleItem::Stmt(stmt) => body.push(stmt),
            ModuleItem::ModuleDecl(decl) => match decl {
                // Imports and re-exports from other modules must stay at module level.
                ModuleDecl::Import(_)
                | ModuleDecl::TsImportEquals(_)
                | ModuleDecl::ExportAll(_) => module_level.push(ModuleItem::ModuleDecl(decl)),
                ModuleDecl::ExportNamed(named) if named.src.is_some() => {
                    module_level.push(ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(named)))
                }
                // `export const x = 1` runs as `const x = 1`: nothing imports this module.
                ModuleDecl::ExportDecl(export) => body.push(Stmt::Decl(export.decl)),
                ModuleDecl::ExportDefaultExpr(export) => body.push(expr_stmt(export.span, export.expr)),
                // A named default function or class is a declaration (its name is in scope, the
                // function hoisted), as in the module; an anonymous one is a value.
                ModuleDecl::ExportDefaultDecl(export) => match export.decl {
                    DefaultDecl::Class(ClassExpr { ident: Some(ident), class }) => {
                        body.push(Stmt::Decl(Decl::Class(ClassDecl { ident, declare: false, class })))
                    }
                    DefaultDecl::Class(class) => {
                        body.push(expr_stmt(export.span, Box::new(Expr::Class(class))))
                    }
                    DefaultDecl::Fn(FnExpr { ident: Some(ident), function }) => {
                        body.push(Stmt::Decl(Decl::Fn(FnDecl { ident, declare: false, function })))
                    }
                    DefaultDecl::Fn(func) => body.push(expr_stmt(export.span, Box::new(Expr::Fn(func)))),
                    DefaultDecl::TsInterfaceDecl(_) => {}
                },
                // Local `export { a }`, `export =`, `export as namespace`: meaningless here.
                _ => {}
            },
        }
    }

    if let Some(last) = body.iter().rposition(|stmt| !is_inert(stmt))
        && let Stmt::Expr(ExprStmt { span, expr }) = &mut body[last]
    {
        let expr = std::mem::replace(expr, Box::new(Expr::Invalid(Default::default())));
        body[last] = Stmt::Return(ReturnStmt { span: *span, arg: Some(expr) });
    }

    place_body(&mut wrapper, body);
    module_level.push(wrapper);
    Module { body: module_level, ..module }
}

fn expr_stmt(span: Span, expr: Box<Expr>) -> Stmt {
    Stmt::Expr(ExprStmt { span, expr })
}

/// Statements that produce no value and are skipped when looking for the last expression.
fn is_inert(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Empty(_) => true,
        Stmt::Decl(Decl::TsInterface(_) | Decl::TsTypeAlias(_)) => true,
        Stmt::Decl(Decl::Var(var)) => var.declare,
        Stmt::Decl(Decl::TsModule(module)) => module.declare,
        _ => false,
    }
}

fn place_body(wrapper: &mut ModuleItem, stmts: Vec<Stmt>) {
    let ModuleItem::ModuleDecl(ModuleDecl::ExportDefaultExpr(export)) = wrapper else {
        unreachable!("wrapper is `export default <call>`")
    };
    let Expr::Call(call) = &mut *export.expr else {
        unreachable!("wrapper calls the hook")
    };
    let Expr::Arrow(arrow) = &mut *call.args[0].expr else {
        unreachable!("the hook's argument is an arrow function")
    };
    let BlockStmtOrExpr::BlockStmt(block) = &mut *arrow.body else {
        unreachable!("the arrow has a block body")
    };
    block.stmts = stmts;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(code: &str) -> String {
        let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
        prepare_execution(code, &url).unwrap().code
    }

    /// The body of the wrapper, whitespace-normalized, for compact assertions.
    fn body(code: &str) -> String {
        let out = js(code);
        let start = out.find("async ()=>{").expect("wrapper present") + "async ()=>{".len();
        let end = out.rfind("});").unwrap();
        out[start..end].split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn last_expression_becomes_return() {
        assert_eq!(body("1+1"), "return 1 + 1;");
        assert_eq!(body("const a = 5\na * 2"), "const a = 5; return a * 2;");
    }

    #[test]
    fn statements_only_return_nothing() {
        assert_eq!(body("for (let i = 0; i < 3; i++) { }"), "for(let i = 0; i < 3; i++){}");
        assert_eq!(body("const s = 'a;b'"), "const s = 'a;b';");
    }

    #[test]
    fn carriage_returns_are_line_breaks() {
        let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
        assert!(prepare_execution("<\n\r\r\r\r0\rY", &url).is_err(), "a syntax error, not a panic");
        assert_eq!(body("const a = 1\r\nconst b = 2\ra + b"), "const a = 1; const b = 2; return a + b;");
        assert!(prepare_execution("\u{feff}\u{feff}RRO86'_", &url).is_err(), "two BOMs: a syntax error, not a panic");
        assert_eq!(body("\u{feff}\u{feff}1"), "return 1;");
    }

    #[test]
    fn a_parser_panic_is_a_syntax_error() {
        // swc unwraps a failed BigInt parse of `0x_2n` (found by fuzzing; `deno run` panics).
        let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
        for code in ["0x_2n", "2\r<0x_2n\u{cc}b", "const a = 0b_1n"] {
            let err = prepare_execution(code, &url).unwrap_err();
            assert!(err.0.starts_with("Invalid or unexpected token in file:///ws/$code.ts"), "{code}: {}", err.0);
            assert!(transpile_module(code.into(), &url, MediaType::TypeScript).is_err(), "{code}");
        }
        assert_eq!(body("0x1_2n"), "return 0x1_2n;", "a separator between digits is fine");
    }

    #[test]
    fn recovered_syntax_errors_are_errors() {
        let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
        for code in ["!@", "let x = ;"] {
            assert!(prepare_execution(code, &url).is_err(), "{code}");
        }
        assert!(transpile_module("export const = 1".into(), &url, MediaType::TypeScript).is_err());
        assert!(transpile_module("return 1".into(), &url, MediaType::TypeScript).is_err(), "return only in executions");
    }

    #[test]
    fn top_level_return_is_kept() {
        assert_eq!(body("const a = 5\nreturn a * 2"), "const a = 5; return a * 2;");
        assert_eq!(body("if (true) { return 1 }\n2"), "if (true) { return 1; } return 2;");
    }

    #[test]
    fn function_declaration_then_call() {
        assert_eq!(body("function f() { return 1; }\nf()"), "function f() { return 1; } return f();");
    }

    #[test]
    fn multiline_expression_is_one_statement() {
        assert_eq!(body("const a=[1,2,3]\na.map(x =>\n  x * 2)"), "const a = [ 1, 2, 3 ]; return a.map((x)=>x * 2);");
    }

    #[test]
    fn typescript_is_stripped_and_trailing_types_ignored() {
        assert_eq!(
            body("interface P { x: number }\nconst p: P = { x: 3 }\np.x\ntype T = string;"),
            "const p = { x: 3 }; return p.x;"
        );
    }

    #[test]
    fn await_stays_valid() {
        assert_eq!(body("await Promise.resolve(3)"), "return await Promise.resolve(3);");
    }

    #[test]
    fn imports_stay_at_module_level() {
        let out = js("import * as m from 'data:text/javascript,export default 7'\nm.default");
        assert!(out.starts_with("import * as m from 'data:text/javascript,export default 7';"), "{out}");
        assert_eq!(body("import * as m from 'data:x'\nm.default"), "return m.default;");
    }

    #[test]
    fn exports_run_as_plain_code() {
        assert_eq!(body("export const x = 1\nexport default x + 1"), "const x = 1; return x + 1;");
        assert_eq!(body("const y = 2\nexport { y }"), "const y = 2;");
    }

    #[test]
    fn a_named_default_function_or_class_is_declared() {
        assert_eq!(body("export default function main() { return 1 }\nmain()"), "function main() { return 1; } return main();");
        assert_eq!(body("export default class A {}\nnew A()"), "class A { } return new A();");
        assert_eq!(body("export default function () { return 1 }"), "return function() { return 1; };");
    }

    #[test]
    fn wrapper_calls_the_hook() {
        assert!(js("1").contains(r#"globalThis[Symbol.for("mcp-conductor")].run(async ()=>{"#));
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
        let err = prepare_execution("const x = {{{", &url).unwrap_err();
        assert!(err.0.contains("$code.ts:1:"), "{}", err.0);
        let err = prepare_execution("const a = 1;\nconst b = ;", &url).unwrap_err();
        assert!(err.0.contains("$code.ts:2:11\n\n  const b = ;\n            ^"), "{}", err.0);
    }

    #[test]
    fn source_map_is_emitted() {
        let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
        assert!(prepare_execution("throw new Error('x')", &url).unwrap().source_map.is_some());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Arbitrary text never panics the rewrite: it is JavaScript or a syntax error.
            #[test]
            fn never_panics(code in ".{0,200}") {
                let url = ModuleSpecifier::parse("file:///ws/$code.ts").unwrap();
                let _ = prepare_execution(&code, &url);
            }

            /// After any number of declarations, a final expression is what the body returns.
            #[test]
            fn last_expression_is_returned(decls in prop::collection::vec("[a-z]{1,6}", 0..5), n in 0u32..1000) {
                let mut code = String::new();
                for (i, name) in decls.iter().enumerate() {
                    code.push_str(&format!("const {name}{i} = {i};\n"));
                }
                code.push_str(&format!("{n} + 1"));
                let expected = format!("return {n} + 1;");
                prop_assert!(body(&code).ends_with(&expected), "{}", body(&code));
            }
        }
    }
}
