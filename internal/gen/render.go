package gen

import (
	"github.com/resolver-dev/resolver/internal/jsonlit"
)

var productCents = [...]int64{1999, 4950, 12950, 899, 25000}

var planCents = [...]int64{0, 900, 4900, 49900}

var badUUIDs = [...]string{"not-a-uuid", "0190c1a2-zzzz-7000-8000-000000000000", "0190c1a2-6b00-7000-8000-00000000a0"}

const (
	padKey = "pad"
)

// render writes the record value of e into g.w.b.
func (g *Generator) render(u *user, e *ev) {
	g.seq++
	appendUUIDv7(g.uuid[:0], e.ms, mix(g.seed^g.seq*golden), g.seed>>40, false)
	w := &g.w
	w.reset()
	if !e.env {
		propsEnd := g.writeEvent(w, u, e, 0)
		switch e.defect {
		case defNone:
			g.pad(w, propsEnd, false)
		case defTruncate:
			w.b = w.b[:1+u.r.intn(len(w.b)-2)]
		case defArray:
			n := len(w.b)
			w.b = append(w.b, 0, ']')
			copy(w.b[1:], w.b[:n])
			w.b[0] = '['
		}
		return
	}

	// The capture envelope; its data is the event as a JSON string.
	d := u.dev
	delay := int64(u.r.intn(3000))
	w.open()
	w.key("uuid")
	w.b = append(w.b, '"')
	w.b = append(w.b, g.uuid[:]...)
	w.b = append(w.b, '"')
	w.str("distinct_id", e.did)
	w.str("ip", d.ip)
	w.time("now", e.ms+delay)
	w.time("sent_at", e.ms+d.skew+delay)
	w.str("token", g.tokens[u.team])
	w.key("data")
	w.b = append(w.b, '"')
	if e.defect == defBadData {
		in := &g.in
		in.reset()
		g.writeEvent(in, u, e, delay)
		in.b = in.b[:1+u.r.intn(len(in.b)-2)]
		w.b = jsonlit.AppendContentsBytes(w.b, in.b)
	} else {
		w.nested = true
		propsEnd := g.writeEvent(w, u, e, delay)
		w.nested = false
		w.b = append(w.b, '"')
		w.close()
		g.pad(w, propsEnd, true)
		return
	}
	w.b = append(w.b, '"')
	w.close()
}

// writeEvent writes e as a JSON object and returns the offset of the end of
// its properties, where padding goes.
func (g *Generator) writeEvent(w *jw, u *user, e *ev, delay int64) (propsEnd int) {
	d := u.dev
	tok := g.tokens[u.team]
	noTeam := e.defect == defNoTeam
	w.open()
	if !e.env {
		if e.defect == defBadUUID {
			w.str("uuid", badUUIDs[e.defVariant])
		} else {
			w.key("uuid")
			w.q()
			w.b = append(w.b, g.uuid[:]...)
			w.q()
		}
	}
	if e.defect == defBadEvent {
		switch e.defVariant {
		case 0:
			w.str("event", "")
		case 1:
			w.raw("event", "null")
		}
	} else {
		w.str("event", e.name)
	}
	if e.shape != shapeWeb {
		g.writeDID(w, e)
		if !noTeam {
			if e.shape == shapeMobile {
				w.str("api_key", tok)
			} else {
				w.str("token", tok)
			}
		}
	}
	if usesTeamID(u.team) && !noTeam {
		if u.r.intn(5) == 0 {
			w.str("team_id", itoa(u.team))
		} else {
			w.int("team_id", int64(u.team))
		}
	}
	if !e.env {
		w.time("timestamp", e.ms)
	}
	w.obj("properties")
	g.writeProps(w, u, e)
	if e.shape == shapeWeb {
		g.writeDID(w, e)
		if !noTeam {
			w.str("token", tok)
		}
	}
	if e.personless {
		w.bool("$process_person_profile", false)
	}
	if e.body == bodyIdentify && !e.setTop {
		g.writeIdentifySet(w, e)
	}
	propsEnd = len(w.b)
	w.close()
	if e.body == bodyIdentify && e.setTop {
		g.writeIdentifySet(w, e)
	}
	if e.env {
		w.time("timestamp", e.ms+d.skew)
		w.time("sent_at", e.ms+d.skew+delay)
	}
	w.close()
	return propsEnd
}

// pad pads w.b, a complete record, to Config.PadBytes at propsEnd; nested
// when the properties are inside an envelope's data string.
func (g *Generator) pad(w *jw, propsEnd int, nested bool) {
	head, tail := `,"`+padKey+`":"`, `"`
	if nested {
		head, tail = `,\"`+padKey+`\":\"`, `\"`
	}
	n := g.cfg.PadBytes - len(w.b) - len(head) - len(tail)
	if n <= 0 {
		return
	}
	ins := len(head) + n + len(tail)
	old := len(w.b)
	w.b = append(w.b, make([]byte, ins)...)
	b := w.b
	copy(b[propsEnd+ins:], b[propsEnd:old])
	j := propsEnd + copy(b[propsEnd:], head)
	off := int(g.seq*golden>>40) % len(g.padding)
	for end := j + n; j < end; off = 0 {
		j += copy(b[j:end], g.padding[off:])
	}
	copy(b[j:], tail)
}

// writeDID writes the distinct_id where e's shape puts it.
func (g *Generator) writeDID(w *jw, e *ev) {
	if e.defect == defNoDID {
		switch e.defVariant {
		case 0: // missing
		case 1:
			w.str("distinct_id", "")
		case 2:
			w.str("distinct_id", "   ")
		case 3:
			w.raw("distinct_id", "null")
		case 4:
			w.raw("distinct_id", "{}")
		default:
			w.raw("distinct_id", "[]")
		}
		return
	}
	if e.didNum {
		w.raw("distinct_id", e.did)
		return
	}
	w.str("distinct_id", e.did)
}

func (g *Generator) writeIdentifySet(w *jw, e *ev) {
	p := e.who
	w.obj("$set")
	w.str("email", p.email)
	w.str("name", p.first+" "+p.last)
	w.str("plan", plans[e.plan])
	w.close()
	w.obj("$set_once")
	w.str("initial_plan", plans[e.plan])
	w.close()
}

func (w *jw) url(k, host, path string) {
	w.key(k)
	w.q()
	w.b = append(w.b, "https://"...)
	w.b = append(w.b, host...)
	w.b = append(w.b, path...)
	w.q()
}

// writeProps writes the SDK's and the event's own properties.
func (g *Generator) writeProps(w *jw, u *user, e *ev) {
	d := u.dev
	switch e.shape {
	case shapeWeb:
		p := d.web
		w.str("$os", p.os)
		w.str("$browser", p.browser)
		w.int("$browser_version", p.version)
		w.str("$lib", "web")
	case shapeMobile:
		p := d.app
		w.str("$os", p.os)
		w.str("$os_version", p.osVersion)
		w.str("$device_model", p.model)
		w.str("$lib", p.lib)
	case shapeServer:
		w.str("$lib", e.lib.lib)
		w.str("$lib_version", e.lib.version)
	}
	if e.shape != shapeServer {
		w.str("$session_id", u.sessionID)
		w.str("$device_id", d.id)
	}
	host := hosts[(u.team-1)%len(hosts)]
	page := func() {
		if e.shape == shapeMobile {
			w.str("$screen_name", screens[u.page%len(screens)])
			return
		}
		w.url("$current_url", host, paths[u.page])
	}
	switch e.body {
	case bodyPageview:
		page()
		if e.landing {
			w.str("$referrer", referrers[u.r.intn(len(referrers))])
		}
	case bodyPageleave:
		page()
		w.int("$prev_pageview_duration", int64(1+u.r.intn(300)))
	case bodyScreen:
		page()
	case bodyAutocapture:
		page()
		if e.shape == shapeMobile {
			w.str("$event_type", "touch")
			w.int("$touch_x", int64(u.r.intn(390)))
			w.int("$touch_y", int64(u.r.intn(844)))
		} else {
			w.str("$event_type", "click")
			w.str("$elements_chain", elementsChains[u.r.intn(len(elementsChains))])
		}
	case bodyCustom:
		page()
		switch e.variant {
		case 0:
			w.str("button", buttons[u.r.intn(len(buttons))])
		case 1:
			i := u.r.intn(len(products))
			w.str("product_id", products[i])
			w.cents("price", productCents[i])
		case 2:
			w.str("product_id", products[u.r.intn(len(products))])
			w.int("quantity", int64(1+u.r.intn(3)))
		case 3:
			v := int64(500 + u.r.intn(50000))
			w.cents("cart_value", v)
			if !e.personless && u.r.chance(0.3) {
				w.obj("$set")
				w.cents("last_cart_value", v)
				w.close()
			}
		default:
			w.str("query", queries[u.r.intn(len(queries))])
		}
	case bodyServer:
		switch e.variant {
		case 0:
			w.str("order_id", "ord_"+itoa(int(g.seq)))
			w.cents("revenue", int64(500+u.r.intn(50000)))
			w.str("currency", "USD")
		default:
			w.str("plan", plans[u.plan])
			w.cents("revenue", planCents[u.plan])
		}
	case bodySet:
		w.obj("$set")
		w.str("theme", [...]string{"light", "dark", "system"}[u.r.intn(3)])
		w.str("locale", [...]string{"en-US", "de-DE", "pt-BR", "ja-JP"}[u.r.intn(4)])
		w.close()
	case bodyExcluded:
		switch e.variant {
		case 0:
			w.str("$feature_flag", flags[u.r.intn(len(flags))])
			w.raw("$feature_flag_response", flagResponses[u.r.intn(len(flagResponses))])
		case 1:
			x := exceptions[u.r.intn(len(exceptions))]
			page()
			w.str("$exception_type", x.typ)
			w.str("$exception_message", x.msg)
		default:
			s := u.r.intn(len(surveyNames))
			w.str("$survey_id", "survey-"+itoa(s+1))
			w.str("$survey_name", surveyNames[s])
			if e.variant == 3 {
				w.str("$survey_response", itoa(u.r.intn(11)))
			}
		}
	case bodyIdentify:
		w.str("$anon_distinct_id", e.anon)
	case bodyAlias:
		w.str("alias", e.alias)
	}
}
