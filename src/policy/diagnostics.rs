//! Problems found in rule packs, with the file, the place and help.
//!
//! Each [`Diagnostic`] is a `miette::Diagnostic` (for the underlined human report)
//! and serializes to JSON (for tools); `line:column` are computed once from the span.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{LabeledSpan, SourceCode};
use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The policy cannot be loaded.
    Error,
    /// Worth a look; the policy still loads.
    Warning,
}

/// A file's text, shared by all its diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given to the loader.
    pub name: Arc<str>,
    /// The whole text.
    pub text: Arc<str>,
    /// The byte offset of every line's start, computed on first use and shared by the
    /// clones: a file with thousands of diagnostics must not be rescanned for each.
    line_starts: Arc<std::sync::OnceLock<Vec<usize>>>,
}

impl SourceFile {
    /// Wraps a file's name and text.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
            line_starts: Arc::default(),
        }
    }

    /// The byte offset of every line's start.
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts();
        // The last line start at or before the offset.
        let line = starts.partition_point(|&start| start <= offset).max(1);
        let line_start = starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// One problem in one file.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code for tools (`rules::unknown-value`).
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The file.
    pub file: String,
    /// 1-based line, when the problem has a place.
    pub line: Option<usize>,
    /// 1-based column, when the problem has a place.
    pub column: Option<usize>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip)]
    span: Option<Range<usize>>,
    #[serde(skip)]
    source: Option<SourceFile>,
}

impl Diagnostic {
    /// An error at `span` of `source`.
    pub fn error(
        code: &'static str,
        source: &SourceFile,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, source, span, message.into())
    }

    /// A warning at `span` of `source`.
    pub fn warning(
        code: &'static str,
        source: &SourceFile,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, source, span, message.into())
    }

    /// A problem with a whole file or directory that has no text to point into.
    pub fn without_source(code: &'static str, file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: file.to_string(),
            line: None,
            column: None,
            help: None,
            span: None,
            source: None,
        }
    }

    fn new(
        severity: Severity,
        code: &'static str,
        source: &SourceFile,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        let (line, column) = match &span {
            Some(span) => {
                let (line, column) = source.line_column(span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        Diagnostic {
            severity,
            code,
            message,
            file: source.name.to_string(),
            line,
            column,
            help: None,
            span,
            source: Some(source.clone()),
        }
    }

    /// Adds help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds help when there is some.
    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:column`, or just the file.
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.file),
            _ => self.file.clone(),
        }
    }

    /// One line for logs and plain output: `file:line:column: error: message (help: …)`.
    pub fn plain(&self) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut line = format!(
            "{}: {severity}[{}]: {}",
            self.location(),
            self.code,
            self.message
        );
        if let Some(help) = &self.help {
            line.push_str(&format!(" (help: {help})"));
        }
        line
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|source| source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.clone()?;
        let label = LabeledSpan::new_with_span(Some("here".to_string()), span);
        Some(Box::new(std::iter::once(label)))
    }
}

/// Renders diagnostics for a person: underlined source, help, colours on a terminal.
pub fn render_human(diagnostics: &[Diagnostic], color: bool) -> String {
    let handler = miette::GraphicalReportHandler::new_themed(if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    });
    let mut out = String::new();
    for diagnostic in diagnostics {
        if handler.render_report(&mut out, diagnostic).is_err() {
            out.push_str(&diagnostic.plain());
        }
        out.push('\n');
    }
    out
}

impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        // miette reads a `str` from its start to the span; with thousands of diagnostics
        // in a large file that is quadratic. Only the lines around the span are handed
        // to it, and its answer is moved back to the file's lines and offsets.
        let len = self.text.len();
        let starts = self.line_starts();
        let line_of = |offset: usize| starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = span.offset().min(len);
        let end = start.saturating_add(span.len()).min(len);
        let first_line = line_of(start).saturating_sub(context_lines_before);
        let last_line = line_of(end)
            .saturating_add(context_lines_after)
            .saturating_add(1);
        let base = starts.get(first_line).copied().unwrap_or(0);
        let window_end = starts
            .get(last_line.saturating_add(1))
            .copied()
            .unwrap_or(len);
        let window = self.text.get(base..window_end).unwrap_or_default();
        let local = miette::SourceSpan::new((start - base).into(), end - start);
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        // Re-wrapped with the file name so the report header shows `file:line:col`.
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            contents.data(),
            miette::SourceSpan::new(
                (contents.span().offset() + base).into(),
                contents.span().len(),
            ),
            contents.line() + first_line,
            contents.column(),
            contents.line_count(),
        )))
    }
}
