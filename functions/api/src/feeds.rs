//! `/v1/system/feeds`: feed status and sync requests (owned by the feed-sync work).

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
