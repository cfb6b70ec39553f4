//! No source shape can overflow a native stack.
//!
//! swc (through deno_ast) parses, transforms, emits and drops syntax trees recursively: one
//! native stack frame per level of nesting. Untrusted text nested 10,000 levels deep
//! (`[[[…]]]`, `((…))`, `A<A<…>>`, `1+1+…`, `-----1`, `a=>a=>…`) overflowed the thread's stack,
//! and Rust aborts the whole process on a stack overflow: every tenant's work ended.
//!
//! Two parts, applied to every text we hand to swc (an execution's code, every transpiled
//! module, CommonJS analysis, playbooks, generated types):
//! - [`check`] bounds how deep the syntax tree can be, from tokens alone (swc's lexer is
//!   iterative), before any recursion: an estimate that can only be too high, never too low,
//!   of the tree's depth, in *levels*. Past [`MAX_LEVELS`] the text is refused as a syntax error.
//! - [`on_parser_stack`] runs the parse on a thread whose stack holds that many levels with a
//!   wide margin: measured, the costliest shape (`let a: ((((B))))`) needs 1.9 KB per level for
//!   parse + transform + emit + drop, so [`MAX_LEVELS`] needs 19 MB; [`PARSER_STACK`] is 64 MiB
//!   (address space; only the pages a parse touches are ever backed by memory).
//!
//! The estimate: each bracket-like opener (`(`, `[`, `{`, `${`, a template's backquote, `<`
//! which may open type arguments) starts a frame, and within a frame every token adds a level
//! until a separator that cannot hide nesting (`,`, a statement end) resets it. A frame counts
//! its opener, its open chain and the frames above it. Statement ends are `;` (unless `else` or
//! `while` follows, which continue a statement) and a line break between a token that ends an
//! expression and one that starts a statement (ASI). Closers pop only their own opener.
//! `tests/fixtures` and the fuzz target `nesting` check the bound against the real parser.

use deno_ast::MediaType;
use deno_ast::swc::lexer::token::{BinOpToken, Keyword, Token, Word};

/// The deepest syntax an execution, module or playbook may have, in levels (see the module
/// docs). Everyday code stays below 200; a 5,000-term expression on one line still passes.
pub const MAX_LEVELS: usize = 10_000;

/// The stack every swc parse runs on (see the module docs for the sizing).
pub const PARSER_STACK: usize = 64 << 20;

/// Where the text first went past [`MAX_LEVELS`], as a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    pub offset: usize,
}

impl TooDeep {
    pub fn message(&self) -> String {
        format!(
            "Nesting too deep: more than {MAX_LEVELS} levels of brackets, type arguments or chained operators \
             (split the expression, or build deep data at run time)"
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opener {
    Paren,
    Bracket,
    Brace,
    /// `${` inside a template.
    Substitution,
    /// A template literal, between its backquotes.
    Template,
    /// `<`: type arguments, or a comparison (then it never closes and only over-counts).
    Angle,
}

struct Frame {
    opener: Opener,
    chain: usize,
}

/// Refuses text whose syntax tree could be deeper than [`MAX_LEVELS`] (see the module docs).
pub fn check(text: &str, media_type: MediaType) -> Result<(), TooDeep> {
    let mut estimate = Estimate { frames: vec![Frame { opener: Opener::Brace, chain: 0 }], levels: 1, max: 1 };
    let mut previous: Option<(Token, usize)> = None;
    let mut statement_ended = false;
    for item in deno_ast::lex(text, media_type) {
        let deno_ast::TokenOrComment::Token(token) = item.inner else { continue };
        let start = item.range.start;
        if let Some((before, end)) = &previous {
            let line_break = text.get(*end..start).is_some_and(|gap| gap.contains(['\n', '\r', '\u{2028}', '\u{2029}']));
            if line_break && ends_expression(before) && starts_statement(&token) {
                statement_ended = true;
            }
        }
        if statement_ended && !continues_statement(&token) {
            estimate.end_statement();
        }
        statement_ended = false;
        match &token {
            Token::Semi => statement_ended = true,
            Token::Comma => estimate.reset_chain(),
            Token::LParen => estimate.open(Opener::Paren),
            Token::LBracket => estimate.open(Opener::Bracket),
            Token::LBrace => estimate.open(Opener::Brace),
            Token::DollarLBrace => estimate.open(Opener::Substitution),
            Token::BinOp(BinOpToken::Lt) => estimate.open(Opener::Angle),
            Token::RParen => estimate.close(&[Opener::Paren]),
            Token::RBracket => estimate.close(&[Opener::Bracket]),
            Token::RBrace => estimate.close(&[Opener::Brace, Opener::Substitution]),
            Token::BackQuote if estimate.top() == Opener::Template => estimate.close(&[Opener::Template]),
            Token::BackQuote => estimate.open(Opener::Template),
            Token::BinOp(BinOpToken::Gt) => estimate.close_angles(1),
            Token::BinOp(BinOpToken::RShift) => estimate.close_angles(2),
            Token::BinOp(BinOpToken::ZeroFillRShift) => estimate.close_angles(3),
            _ => estimate.add(1),
        }
        if estimate.max > MAX_LEVELS {
            return Err(TooDeep { offset: start });
        }
        previous = Some((token, item.range.end));
    }
    Ok(())
}

struct Estimate {
    frames: Vec<Frame>,
    /// Frames plus every frame's chain: the estimate of the depth at this token.
    levels: usize,
    max: usize,
}

impl Estimate {
    fn top(&self) -> Opener {
        self.frames.last().map_or(Opener::Brace, |f| f.opener)
    }

    fn add(&mut self, n: usize) {
        if let Some(frame) = self.frames.last_mut() {
            frame.chain += n;
            self.levels += n;
            self.max = self.max.max(self.levels);
        }
    }

    fn reset_chain(&mut self) {
        if let Some(frame) = self.frames.last_mut() {
            self.levels -= frame.chain;
            frame.chain = 0;
        }
    }

    /// The bracket group counts as one link of the enclosing chain, plus its own frame.
    fn open(&mut self, opener: Opener) {
        self.add(1);
        self.frames.push(Frame { opener, chain: 0 });
        self.levels += 1;
        self.max = self.max.max(self.levels);
    }

    fn pop(&mut self) {
        if self.frames.len() > 1 {
            let frame = self.frames.pop().expect("more than one frame");
            self.levels -= frame.chain + 1;
        }
    }

    /// Pops unclosed `<` frames, then the matching opener; a closer nothing matches changes
    /// nothing (so a stray closer can never lower the estimate below the real depth).
    fn close(&mut self, openers: &[Opener]) {
        let Some(index) = self.frames.iter().rposition(|f| openers.contains(&f.opener)) else { return };
        if index == 0 || self.frames[index + 1..].iter().any(|f| f.opener != Opener::Angle) {
            return;
        }
        while self.frames.len() > index {
            self.pop();
        }
    }

    fn close_angles(&mut self, count: usize) {
        for _ in 0..count {
            if self.top() != Opener::Angle {
                self.add(1);
                return;
            }
            self.pop();
        }
    }

    /// A statement ended: comparisons left open by it close, and its chain restarts.
    fn end_statement(&mut self) {
        while self.top() == Opener::Angle && self.frames.len() > 1 {
            self.pop();
        }
        self.reset_chain();
    }
}

/// A token after which a line break ends the statement (if the next token starts one).
fn ends_expression(token: &Token) -> bool {
    matches!(
        token,
        Token::RParen
            | Token::RBracket
            | Token::RBrace
            | Token::BackQuote
            | Token::Str { .. }
            | Token::Num { .. }
            | Token::BigInt { .. }
            | Token::Regex(..)
            | Token::PlusPlus
            | Token::MinusMinus
            | Token::Word(Word::Null | Word::True | Word::False | Word::Ident(_))
            | Token::Word(Word::Keyword(Keyword::This | Keyword::Super))
    )
}

/// A token that cannot continue the expression before a line break (so ASI ends the statement).
fn starts_statement(token: &Token) -> bool {
    match token {
        Token::Word(Word::Keyword(k)) => !matches!(k, Keyword::In | Keyword::InstanceOf),
        Token::Word(Word::Ident(ident)) => {
            // `as`, `satisfies` and friends continue a TypeScript expression.
            !matches!(ident.as_ref(), "as" | "satisfies" | "of" | "is" | "extends" | "keyof")
        }
        Token::Word(_) | Token::Str { .. } | Token::Num { .. } | Token::BigInt { .. } | Token::LBrace => true,
        _ => false,
    }
}

/// Tokens that continue the statement a `;` or line break seemed to end (`if (a) x; else …`,
/// `do x; while (a)`): the chain is not reset before them.
fn continues_statement(token: &Token) -> bool {
    matches!(token, Token::Word(Word::Keyword(Keyword::Else | Keyword::While | Keyword::Catch | Keyword::Finally)))
}

thread_local! {
    static ON_PARSER_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the current thread as one spawned with [`PARSER_STACK`] (the execution threads).
pub fn mark_parser_stack() {
    ON_PARSER_STACK.with(|c| c.set(true));
}

/// A panic inside swc: it panics on a few malformed inputs instead of reporting them (`0x_1n`,
/// found by fuzzing; `deno run` panics on it too). The text is at fault, not the server, so it
/// comes back as an error of that text; it never unwinds into the caller, which may be a V8
/// callback (module loading), where a panic cannot unwind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParserPanic(pub String);

impl ParserPanic {
    /// What the user is told, in V8's words for an unreadable token, with swc's own message.
    pub fn message(&self, specifier: &deno_ast::ModuleSpecifier) -> String {
        format!("Invalid or unexpected token in {specifier} (the parser failed on this text: {})", self.0)
    }
}

/// Runs `parse` (anything that lexes or parses with swc) on a stack of [`PARSER_STACK`]: here
/// if this thread has one, otherwise on a short-lived thread (tokio's workers have 2 MiB). A
/// panic inside is caught and returned as [`ParserPanic`].
pub fn on_parser_stack<R: Send>(parse: impl FnOnce() -> R + Send) -> Result<R, ParserPanic> {
    let caught = || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).map_err(|panic| {
            let text = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
            ParserPanic(text.unwrap_or("a panic").to_owned())
        })
    };
    if ON_PARSER_STACK.with(|c| c.get()) {
        return caught();
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("deno-parse".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || {
                mark_parser_stack();
                caught()
            })
            .expect("spawning a parser thread");
        match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyday_code_passes() {
        let code = include_str!("../../js/conductor.js");
        assert!(check(code, MediaType::JavaScript).is_ok());
        let asi = "const a = 1\nlet b = a + 2\nb = b * a\nconsole.log(a, b)\n".repeat(5000);
        assert!(check(&asi, MediaType::TypeScript).is_ok(), "semicolon-free code is many statements");
        let data = format!("[{}]", "{\"a\": [1, 2, {\"b\": \"c\"}]},".repeat(50_000));
        assert!(check(&data, MediaType::TypeScript).is_ok(), "wide data is flat");
        let comparisons = "if (a < b) x = 1;\nconst c = a < b;\n".repeat(5000);
        assert!(check(&comparisons, MediaType::TypeScript).is_ok(), "comparisons close with their statement");
    }

    /// The shapes of `tests/fixtures/deep-shapes.json` (the attack suite sends the same ones to
    /// the server), each nested `n` deep.
    pub fn deep_shapes(n: usize) -> Vec<String> {
        let shapes: Vec<Vec<String>> = serde_json::from_str(include_str!("../../tests/fixtures/deep-shapes.json")).unwrap();
        shapes.iter().skip(1).map(|s| format!("{}{}{}{}{}", s[0], s[1].repeat(n), s[2], s[3].repeat(n), s[4])).collect()
    }

    #[test]
    fn deep_shapes_are_refused() {
        let shapes = deep_shapes(MAX_LEVELS + 1);
        assert!(shapes.len() > 15);
        for shape in shapes {
            assert!(check(&shape, MediaType::TypeScript).is_err(), "{}…", &shape[..40.min(shape.len())]);
        }
    }

    #[test]
    fn stray_closers_do_not_lower_the_estimate() {
        let n = MAX_LEVELS + 1;
        let shape = format!("{}{}", "[ ) } > ".repeat(n), "]".repeat(n));
        assert!(check(&shape, MediaType::TypeScript).is_err());
    }

    /// Whatever the check lets through parses on a third of [`PARSER_STACK`]: random mixes of
    /// the nesting shapes, sized around the bound (a stack overflow aborts this test binary).
    mod against_the_parser {
        use super::*;
        use proptest::prelude::*;

        const PIECES: &[(&str, &str)] = &[
            ("[", "]"), ("(", ")"), ("{a:", "}"), ("`${", "}`"), ("A<", ">"), ("f(", ")"),
            ("-", ""), ("!", ""), ("1+", ""), ("a=>", ""), ("x?", ":1"), ("a.b+", ""),
            ("if(a)", ""), ("typeof ", ""), ("await ", ""), ("new ", ""), ("a:", ""), ("\n+", ""),
            ("function f(){", "}"), ("class C{m(){", "}}"), ("(x)=>{", "}"),
        ];

        fn text(parts: &[(usize, usize)]) -> String {
            let (mut open, mut close) = (String::new(), String::new());
            for &(piece, count) in parts {
                let (o, c) = PIECES[piece % PIECES.len()];
                open.push_str(&o.repeat(count));
                close.insert_str(0, &c.repeat(count));
            }
            let body = if open.contains("A<") { "B" } else { "1" };
            format!("let v = {open}{body}{close};")
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
            #[test]
            fn accepted_text_parses_on_a_third_of_the_stack(parts in prop::collection::vec((0..64usize, 1..4_000usize), 1..6)) {
                let code = text(&parts);
                if check(&code, MediaType::TypeScript).is_ok() {
                    let spec = deno_ast::ModuleSpecifier::parse("file:///w/$code.ts").unwrap();
                    std::thread::Builder::new()
                        .stack_size(PARSER_STACK / 3)
                        .spawn(move || {
                            mark_parser_stack();
                            let _ = super::super::super::code::prepare_execution(&code, &spec);
                        })
                        .unwrap()
                        .join()
                        .unwrap();
                }
            }
        }
    }
}
