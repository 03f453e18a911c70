//! The engine: one service function per operation of a resource. Each authorizes (scope and
//! path policy), validates, performs the change in one store call together with its audit
//! entry and events, and returns a typed result. No HTTP types here: `routes::*` handlers only
//! extract, call one function here, and map the result to a response.

pub mod audit;
pub mod policies;
pub mod rotation;
pub mod secret_policies;
pub mod subscriptions;
