//! The Khiên collector: enrolls agents, ingests their signed reports over
//! mutual TLS, stores them (SQLite or PostgreSQL), evaluates them against the
//! level of every information system each endpoint belongs to, and answers
//! the JSON API.

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod datadir;
pub mod enroll;
pub mod evaluate;
pub mod exceptions;
pub mod export;
pub mod history;
pub mod ingest;
pub mod kpi;
pub mod register;
pub mod rollup;
pub mod scorecard;
pub mod seed;
pub mod server;
pub mod store;
pub mod web;
pub mod writer;
