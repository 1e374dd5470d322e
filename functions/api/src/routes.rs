//! The route table: every operation is registered through [`Api::op`], which adds the
//! handler to the axum router *and* records its description, so the OpenAPI document
//! (`GET /v1/openapi.json`) is generated from the very list the router is built from.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Value, json};

use crate::AppState;

/// Request bodies larger than this get 413, unless an operation says otherwise.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials (ping, health, version, API descriptions).
    Public,
    /// Any enabled user; acts on the caller's account.
    User,
    /// Users of an admin account only (account management).
    Admin,
}

/// A query parameter's type, as the OpenAPI document states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Str,
}

/// One query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

pub(crate) const fn q(name: &'static str, kind: Kind, description: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
        description,
    }
}

pub(crate) const fn required(name: &'static str, kind: Kind, description: &'static str) -> Param {
    Param {
        name,
        kind,
        required: true,
        description,
    }
}

/// `page` and `limit`, on every list.
pub(crate) const PAGE: Param = q("page", Kind::Int, "page number, from 1 (default 1)");
pub(crate) const LIMIT: Param = q(
    "limit",
    Kind::Int,
    "items per page, 1 to 1000 (default: all)",
);

/// One operation of the API: what the OpenAPI document says about it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path below `/v1`, with `{name}` parameters, e.g. `/images/{digest}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub access: Access,
    pub query: Vec<Param>,
    /// Name of the request body's schema in `components.schemas`, if the operation takes one.
    pub body: Option<&'static str>,
    /// Whether the 200 response is a JSON array (a list of items).
    pub list: bool,
    pub body_limit: usize,
}

impl Operation {
    fn new(method: &'static str, path: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            summary,
            tag: "",
            access: Access::User,
            query: Vec::new(),
            body: None,
            list: false,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
    pub(crate) fn get(path: &'static str, summary: &'static str) -> Self {
        Self::new("GET", path, summary)
    }
    pub(crate) fn post(path: &'static str, summary: &'static str) -> Self {
        Self::new("POST", path, summary)
    }
    pub(crate) fn put(path: &'static str, summary: &'static str) -> Self {
        Self::new("PUT", path, summary)
    }
    pub(crate) fn delete(path: &'static str, summary: &'static str) -> Self {
        Self::new("DELETE", path, summary)
    }
    pub(crate) fn tag(mut self, tag: &'static str) -> Self {
        self.tag = tag;
        self
    }
    pub(crate) fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }
    pub(crate) fn admin(mut self) -> Self {
        self.access = Access::Admin;
        self
    }
    pub(crate) fn query(mut self, params: &[Param]) -> Self {
        self.query.extend_from_slice(params);
        self
    }
    /// A list: paginated with `page` and `limit`, answered with a JSON array.
    pub(crate) fn list(mut self) -> Self {
        self.list = true;
        self.query.extend_from_slice(&[PAGE, LIMIT]);
        self
    }
    /// A body size limit other than [`DEFAULT_BODY_LIMIT`] (e.g. for image uploads).
    #[allow(dead_code)]
    pub(crate) fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
    pub(crate) fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }

    /// The `{name}` parameters of the path, in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }

    fn filter(&self) -> MethodFilter {
        match self.method {
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::GET,
        }
    }
}

/// The router under construction, with the description of every operation in it.
pub(crate) struct Api {
    public: Router<AppState>,
    user: Router<AppState>,
    admin: Router<AppState>,
    ops: Vec<Operation>,
    /// Paths added with [`Api::route`], which bypasses the description (a test fails on them).
    undocumented: Vec<String>,
}

impl Api {
    pub(crate) fn new() -> Self {
        Self {
            public: Router::new(),
            user: Router::new(),
            admin: Router::new(),
            ops: Vec::new(),
            undocumented: Vec::new(),
        }
    }

    /// Adds `handler` for `op`, with `op`'s body size limit.
    pub(crate) fn op<H, T>(mut self, op: Operation, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let limit = op.body_limit;
        let method: MethodRouter<AppState> = on(op.filter(), handler)
            .layer::<_, std::convert::Infallible>(axum::middleware::from_fn(move |req, next| {
                crate::edges::limit_body(limit, req, next)
            }))
            .layer(DefaultBodyLimit::max(limit));
        let method = if op.path.contains("{digest}") {
            method.layer(axum::middleware::from_fn(crate::edges::check_digest))
        } else {
            method
        };
        match op.access {
            Access::Public => self.public = self.public.route(op.path, method),
            Access::User => self.user = self.user.route(op.path, method),
            Access::Admin => self.admin = self.admin.route(op.path, method),
        }
        self.ops.push(op);
        self
    }

    /// A route without a description, authenticated as a user. Prefer [`Api::op`]: the
    /// OpenAPI test fails while any route is added this way.
    #[allow(dead_code)]
    pub(crate) fn route(mut self, path: &'static str, method: MethodRouter<AppState>) -> Self {
        self.user = self.user.route(path, method);
        self.undocumented.push(path.to_owned());
        self
    }

    pub(crate) fn operations(&self) -> &[Operation] {
        &self.ops
    }

    pub(crate) fn undocumented(&self) -> &[String] {
        &self.undocumented
    }

    /// `(public, user, admin)` routers, for the caller to put the auth layers on.
    pub(crate) fn into_routers(self) -> (Router<AppState>, Router<AppState>, Router<AppState>) {
        (self.public, self.user, self.admin)
    }
}

fn kind_schema(k: Kind) -> Value {
    match k {
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Int => json!({ "type": "integer", "minimum": 1 }),
        Kind::Str => json!({ "type": "string" }),
    }
}

/// The OpenAPI 3.0 document of `ops`.
pub(crate) fn openapi(ops: &[Operation], version: &str) -> Value {
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for op in ops {
        let mut params: Vec<Value> = op
            .path_params()
            .into_iter()
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }))
            .collect();
        params.extend(op.query.iter().map(|p| {
            json!({ "name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": kind_schema(p.kind) })
        }));
        if op.access != Access::Public {
            params.push(json!({
                "name": "x-anchore-account", "in": "header", "required": false,
                "description": "act as this account (admin users only)", "schema": { "type": "string" }
            }));
        }
        let ok = if op.method == "DELETE" && op.tag == "Accounts" {
            json!({ "204": { "description": "deleted" } })
        } else {
            let schema = if op.list {
                json!({ "type": "array", "items": {} })
            } else {
                json!({})
            };
            json!({ "200": { "description": "success", "content": { "application/json": { "schema": schema } } } })
        };
        let mut responses = ok;
        let err = json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } } });
        if let Some(r) = responses.as_object_mut() {
            r.insert("400".into(), err.clone());
            if op.access != Access::Public {
                r.insert(
                    "401".into(),
                    json!({ "description": "missing or wrong credentials" }),
                );
                r.insert("404".into(), err.clone());
                r.insert("429".into(), err.clone());
            }
            if op.access == Access::Admin {
                r.insert("403".into(), err.clone());
            }
            if op.body.is_some() {
                r.insert("413".into(), err);
            }
        }
        let mut o = json!({
            "summary": op.summary,
            "operationId": operation_id(op),
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
        });
        if op.access == Access::Public {
            o["security"] = json!([]);
        }
        if let Some(body) = op.body {
            o["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
            });
        }
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.to_ascii_lowercase(), o);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "customs (Anchore Engine v1 compatible API)",
            "version": version,
            "description": "Generated from the route table of customs-api.",
        },
        "servers": [{ "url": "/v1" }],
        "security": [{ "basic": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "basic": { "type": "http", "scheme": "basic" } },
            "schemas": crate::schemas::all(),
        },
    })
}

/// `get_images_digest_content`: the method and the path's words.
fn operation_id(op: &Operation) -> String {
    let mut id = op.method.to_ascii_lowercase();
    for seg in op.path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .filter(|c| *c != '_' || !seg.starts_with('{')),
        );
    }
    if id == "get" { "ping".into() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_read_from_the_path() {
        let op = Operation::get("/accounts/{accountname}/users/{username}", "x");
        assert_eq!(op.path_params(), ["accountname", "username"]);
        assert_eq!(operation_id(&op), "get_accounts_accountname_users_username");
    }
}
