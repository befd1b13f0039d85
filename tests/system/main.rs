//! Whole-system tests on real parts. One test binary, to keep link time low.

mod agent_cli;
mod catalogue;
mod clamav;
mod collector;
mod firewall;
mod listeners;
mod register;
mod resilience;
