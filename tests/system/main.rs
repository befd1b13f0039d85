//! Whole-system tests on real parts. One test binary, to keep link time low.

mod agent_cli;
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
mod web_pages;
