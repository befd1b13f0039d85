//! Whole-system tests on real parts. One test binary, to keep link time low.

mod agent_cli;
mod browser;
mod catalogue;
mod clamav;
mod collector;
mod evidence;
mod exceptions;
mod firewall;
mod history;
mod kpi;
mod listeners;
mod register;
mod resilience;
mod web;
mod web_endpoint;
mod web_enrollment;
mod web_exceptions;
mod web_pages;
mod web_system;
