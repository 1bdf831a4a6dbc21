// Package gen generates a deterministic, realistic synthetic capture stream:
// the records a PostHog-style capture service writes to Kafka, keyed
// "token:distinct_id", for tests, "resolver gen", "resolver bench" and
// "resolver demo".
//
// The stream simulates Config.Users people spread over Config.Teams teams.
// Each person has sessions on a browser, a phone or an app; a session is a
// run of page views, custom events, autocapture and the odd excluded event
// ($feature_flag_called, $exception, surveys). Some sessions log in: an
// $identify joins the anonymous id of the device to the person's id, and on
// logout the SDK's reset gives the device a fresh anonymous id. Some people use
// a second device that later identifies into the same id, and some get a CRM
// id attached by a server-side $create_alias. Rarely a second person logs in
// on a device someone else already identified (a merge the resolver refuses,
// docs/SEMANTICS.md §4). Anonymous browsing is partly personless
// ($process_person_profile=false, docs/SEMANTICS.md §2). A small share of records
// carries an illegal distinct_id ("null", "undefined", …) and a small share is
// malformed in exactly one way, so that its dead-letter reason is certain.
//
// Records take the shapes real SDKs produce: posthog-js puts distinct_id and
// token in properties, mobile SDKs send a top-level distinct_id and api_key,
// server libraries a top-level distinct_id and token, and a share of records is
// wrapped in the capture envelope whose data member is the event as a JSON
// string, with client clock skew that the resolver's sent_at/now correction
// removes exactly.
//
// The output is a pure function of the Config: the same Config gives
// byte-identical records. Per person, records are in time order; people
// interleave, and in fact the whole stream is in non-decreasing event time
// (after skew correction), with at most Config.Concurrency people online at
// once.
package gen
