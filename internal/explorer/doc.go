// Package explorer is the person explorer of the admin server: a page
// served at /ui/ (internal/admin mounts Handler there) that looks persons
// up by team and distinct_id, shows their ids and properties with their
// times, draws their lineage as a graph (ids as nodes, merges as edges
// labelled with rule and time, refusals dashed), splits and deletes them
// behind a confirmation, and shows the billing report of a team and month.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary (no
// framework, no build step, nothing fetched from another origin). It holds
// no data itself: it reads the admin API (/v1/persons, /v1/persons/lineage,
// /v1/billing; DELETE /v1/persons and POST /v1/persons/split), sending the
// admin token as "Authorization: Bearer <token>" — every data call goes
// through the server's token check; the static files need none.
//
// Everything shown comes from data an attacker may write (distinct_ids and
// property values arrive in events), so the script builds the page with
// textContent and createElement/createElementNS only, never innerHTML, and
// Handler sets a Content-Security-Policy (default-src 'self', no inline
// script or style, no framing) on every file.
//
// The page reads its inputs from the URL, so a link (or a test) can drive
// it: ?team=T&distinct_id=D runs the search on load, ?view=billing&team=T&
// month=YYYY-MM the billing report; the token is read from the fragment
// (#token=…, never sent to the server), kept in sessionStorage, and removed
// from the address bar.
package explorer
