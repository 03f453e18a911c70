//! `/v1/subscriptions/*`: event subscriptions by path globs and event types, their long-poll,
//! and the webhook deliveries given up on (dead letters).
//!
//! Every route needs `secrets:read`; a subscription is seen by its owner and the tenant's
//! admins. When the client acts as a tenant ([`Client::with_tenant_id`]) the routes are sent
//! under `/v1/t/{tenant}/`.

use std::time::Duration;

use reqwest::Method;
use scaivault_proto::subscriptions::{
    CreateSubscriptionRequest, DeadLetterList, PollResponse, Subscription, SubscriptionList,
};

use crate::{Call, Client};

/// The server's default `wait` of a poll.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// How much longer than its `wait` a poll's request may take: the server answers when `wait`
/// ends, this covers the rest of the exchange.
const POLL_MARGIN: Duration = Duration::from_secs(30);

/// Parameters of `GET /v1/subscriptions/{id}/poll`. Every field is optional.
#[derive(Clone, Debug, Default)]
pub struct PollQuery {
    /// The `cursor` of the previous poll; without it the poll starts at the subscription's
    /// creation.
    pub cursor: Option<String>,
    /// How long the server holds the request when no event is pending (server default 30s, at
    /// most 60s; zero answers at once). The request's timeout is made longer than this.
    pub wait: Option<Duration>,
    /// Events per response, 1-500 (server default 100).
    pub limit: Option<u32>,
}

/// `wait` as the API spells it: `0s`, `30s`, `1500ms`.
fn wait_param(wait: Duration) -> String {
    if wait.subsec_nanos() == 0 {
        format!("{}s", wait.as_secs())
    } else {
        format!("{}ms", wait.as_millis().max(1))
    }
}

impl Client {
    /// `POST /v1/subscriptions` (`201`). With a webhook, the response carries the signing secret
    /// (`whsec_...`), which no later response repeats.
    pub fn create_subscription(
        &self,
        request: &CreateSubscriptionRequest,
    ) -> Call<'_, Subscription> {
        self.call(Method::POST, self.tenant_url(&["subscriptions"]))
            .json(request)
    }

    /// `GET /v1/subscriptions`: one page of the subscriptions visible to the caller.
    pub fn list_subscriptions(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Call<'_, SubscriptionList> {
        self.call(Method::GET, self.tenant_url(&["subscriptions"]))
            .query_opt("limit", limit)
            .query_opt("cursor", cursor)
    }

    /// `GET /v1/subscriptions/{id}`, with its webhook delivery state.
    pub fn get_subscription(&self, id: &str) -> Call<'_, Subscription> {
        self.call(Method::GET, self.tenant_url(&["subscriptions", id]))
    }

    /// `DELETE /v1/subscriptions/{id}` (`204 No Content`).
    pub fn delete_subscription(&self, id: &str) -> Call<'_, ()> {
        self.call(Method::DELETE, self.tenant_url(&["subscriptions", id]))
    }

    /// `GET /v1/subscriptions/{id}/poll`: the events after `query.cursor`, or, when none is
    /// pending, the first to arrive within `query.wait`. Resume with the returned `cursor`
    /// (also when `events` is empty). This request's timeout is `wait` plus a margin, whatever
    /// the client's timeout.
    pub fn poll_subscription(&self, id: &str, query: &PollQuery) -> Call<'_, PollResponse> {
        let wait = query.wait.unwrap_or(DEFAULT_WAIT);
        self.call(Method::GET, self.tenant_url(&["subscriptions", id, "poll"]))
            .query_opt("cursor", query.cursor.as_deref())
            .query_opt("wait", query.wait.map(wait_param))
            .query_opt("limit", query.limit)
            .timeout(wait.saturating_add(POLL_MARGIN))
    }

    /// `GET /v1/subscriptions/{id}/dead-letters`: webhook deliveries given up on after the
    /// retry window, with the last error.
    pub fn subscription_dead_letters(&self, id: &str) -> Call<'_, DeadLetterList> {
        self.call(
            Method::GET,
            self.tenant_url(&["subscriptions", id, "dead-letters"]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_encoded_and_follow_the_tenant_context() {
        let c = Client::new("http://127.0.0.1:8200").unwrap();
        assert_eq!(
            c.get_subscription("sub a/b").url.unwrap(),
            "http://127.0.0.1:8200/v1/subscriptions/sub%20a%2Fb"
        );
        let list = c.list_subscriptions(Some(10), Some("c1"));
        assert_eq!(
            list.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/subscriptions"
        );
        assert_eq!(
            list.query,
            [("limit", "10".to_string()), ("cursor", "c1".to_string())]
        );
        let t = c.clone().with_tenant_id("tnt_acme");
        assert_eq!(
            t.subscription_dead_letters("sub_x").url.unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/subscriptions/sub_x/dead-letters"
        );
        let create = t.create_subscription(&CreateSubscriptionRequest {
            name: "n".into(),
            paths: vec!["app/**".into()],
            events: vec!["secret.rotated".into()],
            webhook: None,
            tenants: None,
        });
        assert_eq!(
            create.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/t/tnt_acme/subscriptions"
        );
        assert!(matches!(create.body, Some(Ok(_))));
    }

    #[test]
    fn polls_outlast_their_wait() {
        let c = Client::new_with_timeout("http://127.0.0.1:8200", Duration::from_secs(5)).unwrap();
        let call = c.poll_subscription(
            "sub_x",
            &PollQuery {
                cursor: Some("c9".into()),
                wait: Some(Duration::from_secs(60)),
                limit: Some(5),
            },
        );
        assert_eq!(
            call.url.as_deref().unwrap(),
            "http://127.0.0.1:8200/v1/subscriptions/sub_x/poll"
        );
        assert_eq!(
            call.query,
            [
                ("cursor", "c9".to_string()),
                ("wait", "60s".to_string()),
                ("limit", "5".to_string()),
            ]
        );
        assert_eq!(call.timeout, Some(Duration::from_secs(90)));
        // Without a wait the server's default (30s) is held, and nothing is sent.
        let call = c.poll_subscription("sub_x", &PollQuery::default());
        assert!(call.query.is_empty());
        assert_eq!(call.timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn wait_is_spelt_as_the_api_expects() {
        assert_eq!(wait_param(Duration::ZERO), "0s");
        assert_eq!(wait_param(Duration::from_secs(30)), "30s");
        assert_eq!(wait_param(Duration::from_millis(1500)), "1500ms");
        assert_eq!(wait_param(Duration::from_nanos(10)), "1ms");
    }
}
