package gen

// Word lists the events are made of. Changing any of them changes the
// stream of every seed.

var hosts = [...]string{"shop.example.com", "app.example.io", "www.example.org", "store.example.net"}

var paths = [...]string{
	"/", "/pricing", "/features", "/blog/how-we-scaled-ingestion", "/docs/getting-started",
	"/products/sku-1042", "/products/sku-2210", "/cart", "/checkout", "/account/settings",
	"/search?q=running+shoes", "/login", "/signup", "/changelog",
}

var screens = [...]string{"Home", "ProductDetail", "Cart", "Checkout", "Settings", "Search", "Onboarding"}

var referrers = [...]string{"$direct", "$direct", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/", "https://www.bing.com/"}

var firstNames = [...]string{"Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farah", "Gustavo", "Hana", "Ivan", "Júlia", "Kenji", "Léa", "Mateo", "Nia", "Oskar", "Priya", "Quinn", "Rosa", "Søren", "Tariq", "Uma", "Zoë"}

// firstSlugs are firstNames for e-mail addresses.
var firstSlugs = [...]string{"ana", "ben", "chloe", "dmitri", "emma", "farah", "gustavo", "hana", "ivan", "julia", "kenji", "lea", "mateo", "nia", "oskar", "priya", "quinn", "rosa", "soren", "tariq", "uma", "zoe"}

var lastNames = [...]string{"Silva", "Novak", "Okafor", "Tanaka", "Müller", "Kowalski", "García", "Dubois", "Rossi", "Nguyen", "Berg", "O'Neil"}

var lastSlugs = [...]string{"silva", "novak", "okafor", "tanaka", "mueller", "kowalski", "garcia", "dubois", "rossi", "nguyen", "berg", "oneil"}

var mailDomains = [...]string{"example.com", "mail.example.org", "corp.example.net"}

var plans = [...]string{"free", "starter", "pro", "enterprise"}

var buttons = [...]string{"signup", "buy_now", "add_to_cart", "open_menu", "newsletter_subscribe", "play_video"}

var products = [...]string{"sku-1042", "sku-2210", "sku-3307", "sku-4096", "sku-5150"}

var queries = [...]string{"running shoes", "rain jacket", "\"gift card\"", "socks", "headphones under 100"}

var elementsChains = [...]string{
	`button.btn.btn-primary:attr__class="btn btn-primary"text="Buy now"nth-child="2"nth-of-type="1";div.product:nth-child="1"`,
	`a.nav-link:attr__href="/pricing"href="/pricing"text="Pricing"nth-child="3";nav:nth-child="1"`,
	`input:attr__type="email"attr__name="email"nth-child="1";form.signup:nth-child="2"`,
}

var flags = [...]string{"new-checkout", "dark-mode", "pricing-experiment", "onboarding-v2"}

var flagResponses = [...]string{"true", "false", `"control"`, `"test"`}

var exceptions = [...]struct{ typ, msg string }{
	{"TypeError", "Cannot read properties of undefined (reading 'id')"},
	{"NetworkError", "Failed to fetch"},
	{"SyntaxError", "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON"},
}

var surveyNames = [...]string{"NPS Q4", "Checkout feedback", "Feature request"}

// illegalIDs are distinct_ids the resolver may not merge (docs/SEMANTICS.md §4),
// as buggy clients send them. None is empty or blank, so none is a dead
// letter.
var illegalIDs = [...]string{"null", "undefined", "anonymous", "0", "[object Object]", "NaN", "None", "guest", `"null"`, "'undefined'", "distinct_id", "false"}

type webProfile struct {
	os, browser string
	version     int64
}

var desktopProfiles = [...]webProfile{
	{"Mac OS X", "Chrome", 131}, {"Windows", "Chrome", 131},
	{"Windows", "Microsoft Edge", 131}, {"Mac OS X", "Safari", 18},
	{"Linux", "Firefox", 133}, {"Windows", "Firefox", 133},
}

var mobileWebProfiles = [...]webProfile{
	{"iOS", "Mobile Safari", 18}, {"Android", "Chrome", 131}, {"Android", "Samsung Internet", 26},
}

type appProfile struct {
	os, osVersion, lib, model string
}

var appProfiles = [...]appProfile{
	{"iOS", "18.1", "posthog-ios", "iPhone15,2"},
	{"iOS", "17.6", "posthog-ios", "iPhone13,1"},
	{"Android", "14", "posthog-android", "SM-S911B"},
	{"Android", "13", "posthog-android", "Pixel 7"},
}

type serverLib struct{ lib, version string }

var serverLibs = [...]serverLib{{"posthog-node", "4.2.1"}, {"posthog-python", "3.7.0"}, {"posthog-go", "1.2.24"}}
