//! The message loop: documents in, diagnostics and answers out.

use crate::complete::complete;
use crate::describe::{describe, describe_expr, expression_at};
use crate::document::Document;
use crate::index::{declaration, Symbol};
use crate::symbols::document_symbols;
use ftc_frontend::Severity;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, GotoDefinition, HoverRequest, References, Request as _,
};
use lsp_types::{
    CompletionOptions, CompletionResponse, DiagnosticRelatedInformation, DocumentSymbolResponse,
    GotoDefinitionResponse, Hover, HoverContents, HoverProviderCapability, Location, MarkupContent,
    MarkupKind, NumberOrString, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    TextDocumentPositionParams, TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use std::collections::HashMap;

/// What went wrong with the connection itself (not with a request).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the server can do, announced in the `initialize` answer.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![">".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// Answers the `initialize` handshake, then serves until `shutdown`/`exit`.
pub fn serve(connection: &Connection) -> Result<(), Error> {
    let caps = serde_json::to_value(capabilities())?;
    connection.initialize(caps)?;
    let mut server = Server {
        documents: HashMap::new(),
    };
    let mut next: Option<Message> = None;
    loop {
        let message = match next.take() {
            Some(m) => m,
            None => match connection.receiver.recv() {
                Ok(m) => m,
                Err(_) => return Ok(()),
            },
        };
        // A change already followed by another change of the same document
        // is superseded (every change carries the whole text): skip checking it.
        if is_change(&message) {
            if let Ok(following) = connection.receiver.try_recv() {
                let superseded = is_change(&following) && same_document(&message, &following);
                next = Some(following);
                if superseded {
                    continue;
                }
            }
        }
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = server.request(request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(notification) => {
                for out in server.notification(notification) {
                    connection.sender.send(Message::Notification(out))?;
                }
            }
            Message::Response(_) => {}
        }
    }
}

fn is_change(message: &Message) -> bool {
    matches!(message, Message::Notification(n) if n.method == DidChangeTextDocument::METHOD)
}

fn same_document(a: &Message, b: &Message) -> bool {
    match (a, b) {
        (Message::Notification(a), Message::Notification(b)) => {
            let uri = |n: &Notification| n.params["textDocument"]["uri"].clone();
            uri(a) == uri(b)
        }
        _ => false,
    }
}

struct Server {
    documents: HashMap<Uri, Document>,
}

fn invalid(id: RequestId, message: String) -> Response {
    Response::new_err(id, ErrorCode::InvalidParams as i32, message)
}

impl Server {
    fn request(&mut self, request: Request) -> Response {
        let Request { id, method, params } = request;
        let result = match method.as_str() {
            HoverRequest::METHOD => parse(params).map(|p| to_json(self.hover(&p))),
            GotoDefinition::METHOD => parse(params).map(|p| to_json(self.definition(&p))),
            References::METHOD => parse(params).map(|p| to_json(self.references(&p))),
            Completion::METHOD => parse(params).map(|p| to_json(self.completion(&p))),
            DocumentSymbolRequest::METHOD => parse(params).map(|p| to_json(self.symbols(&p))),
            _ => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("`{method}` is not supported"),
                )
            }
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => invalid(id, message),
        }
    }

    fn notification(&mut self, notification: Notification) -> Vec<Notification> {
        let Notification { method, params } = notification;
        match method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = parse::<lsp_types::DidOpenTextDocumentParams>(params) else {
                    return Vec::new();
                };
                self.set(p.text_document.uri, p.text_document.text)
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = parse::<lsp_types::DidChangeTextDocumentParams>(params) else {
                    return Vec::new();
                };
                // Full sync: the last change is the whole text.
                match p.content_changes.into_iter().last() {
                    Some(change) => self.set(p.text_document.uri, change.text),
                    None => Vec::new(),
                }
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = parse::<lsp_types::DidCloseTextDocumentParams>(params) else {
                    return Vec::new();
                };
                self.documents.remove(&p.text_document.uri);
                vec![publish(p.text_document.uri, Vec::new())]
            }
            _ => Vec::new(),
        }
    }

    /// Replaces a document's text and publishes its diagnostics.
    fn set(&mut self, uri: Uri, text: String) -> Vec<Notification> {
        let previous = self.documents.remove(&uri).and_then(|d| d.analyzed);
        let doc = Document::new(text, previous);
        let diagnostics = diagnostics(&uri, &doc);
        self.documents.insert(uri.clone(), doc);
        vec![publish(uri, diagnostics)]
    }

    fn hover(&self, p: &lsp_types::HoverParams) -> Option<Hover> {
        let at = &p.text_document_position_params;
        let a = self
            .documents
            .get(&at.text_document.uri)?
            .analyzed
            .as_ref()?;
        let offset = a.lines.offset(&a.text, at.position);
        let (value, span) = match a.index.at(offset) {
            Some(o) => (describe(&a.program, &a.text, o.symbol), o.span),
            None => {
                let e = expression_at(&a.program, offset)?;
                (describe_expr(&a.program, e)?, e.span)
            }
        };
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            }),
            range: Some(a.lines.range(&a.text, span)),
        })
    }

    fn symbol_at(&self, at: &TextDocumentPositionParams) -> Option<(&Document, Symbol)> {
        let doc = self.documents.get(&at.text_document.uri)?;
        let a = doc.analyzed.as_ref()?;
        let occurrence = a.index.at(a.lines.offset(&a.text, at.position))?;
        Some((doc, occurrence.symbol))
    }

    fn definition(&self, p: &lsp_types::GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let at = &p.text_document_position_params;
        let (doc, symbol) = self.symbol_at(at)?;
        let a = doc.analyzed.as_ref()?;
        let span = declaration(&a.program, symbol);
        Some(GotoDefinitionResponse::Scalar(Location::new(
            at.text_document.uri.clone(),
            a.lines.range(&a.text, span),
        )))
    }

    fn references(&self, p: &lsp_types::ReferenceParams) -> Option<Vec<Location>> {
        let at = &p.text_document_position;
        let (doc, symbol) = self.symbol_at(at)?;
        let a = doc.analyzed.as_ref()?;
        let include = p.context.include_declaration;
        Some(
            a.index
                .references(symbol)
                .filter(|o| include || !o.is_declaration)
                .map(|o| {
                    Location::new(at.text_document.uri.clone(), a.lines.range(&a.text, o.span))
                })
                .collect(),
        )
    }

    fn completion(&self, p: &lsp_types::CompletionParams) -> Option<CompletionResponse> {
        let at = &p.text_document_position;
        let doc = self.documents.get(&at.text_document.uri)?;
        Some(CompletionResponse::Array(complete(doc, at.position)))
    }

    fn symbols(&self, p: &lsp_types::DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let a = self
            .documents
            .get(&p.text_document.uri)?
            .analyzed
            .as_ref()?;
        Some(DocumentSymbolResponse::Nested(document_symbols(a)))
    }
}

fn parse<P: serde::de::DeserializeOwned>(params: serde_json::Value) -> Result<P, String> {
    serde_json::from_value(params).map_err(|e| format!("invalid parameters: {e}"))
}

fn to_json<T: serde::Serialize>(value: T) -> serde_json::Value {
    // The lsp-types values always serialize.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Notification {
    Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    )
}

/// The front end's diagnostics of the current text, as `ftc check` reports
/// them: the same code, message and spans; notes and help follow the message.
pub fn diagnostics(uri: &Uri, doc: &Document) -> Vec<lsp_types::Diagnostic> {
    let range = |span| doc.lines.range(&doc.text, span);
    doc.diagnostics
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            if !d.primary.message.is_empty() {
                message += &format!("\n{}", d.primary.message);
            }
            for note in &d.notes {
                message += &format!("\nnote: {note}");
            }
            if let Some(help) = &d.help {
                message += &format!("\nhelp: {help}");
            }
            let related: Vec<DiagnosticRelatedInformation> = d
                .secondary
                .iter()
                .map(|l| DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), range(l.span)),
                    message: l.message.clone(),
                })
                .collect();
            lsp_types::Diagnostic {
                range: range(d.primary.span),
                severity: Some(match d.severity {
                    Severity::Error => lsp_types::DiagnosticSeverity::ERROR,
                    Severity::Warning => lsp_types::DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.to_string())),
                source: Some("ftc".into()),
                message,
                related_information: (!related.is_empty()).then_some(related),
                ..lsp_types::Diagnostic::default()
            }
        })
        .collect()
}
