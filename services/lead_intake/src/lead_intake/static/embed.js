/* CRM lead intake: form snippet. No dependencies; include it on every page of the site.
 * Keeps the visitor's first and last marketing touch in a first-party cookie (90 days) and,
 * on pages with the form, fills its hidden fields and adds a honeypot and the render time. */
(function () {
  "use strict";
  var CONFIG = __CONFIG__;
  var COOKIE = "crm_touch";
  var DAYS = 90;
  var KEYS = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
              "gclid", "yclid", "fbclid"];
  var URL_FIELDS = ["landing_url", "referrer"];
  // The server's clock: the render time must not depend on a visitor's wrong clock.
  var skew = CONFIG.serverNow - Date.now();
  var script = document.currentScript;
  var submitUrl = script ? script.src.replace(/\/embed\.js(\?.*)?$/, "/submit") : "";

  function now() { return Date.now() + skew; }

  function randomId() {
    if (window.crypto && window.crypto.getRandomValues) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    }
    return String(Math.random()).slice(2) + String(now());
  }

  function readState() {
    var match = document.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([^;]*)"));
    if (!match) return {};
    try { return JSON.parse(decodeURIComponent(match[1])) || {}; } catch (e) { return {}; }
  }

  function writeState(state) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = COOKIE + "=" + encodeURIComponent(JSON.stringify(state)) +
      "; Max-Age=" + DAYS * 86400 + "; Path=/; SameSite=Lax" + secure;
  }

  function hostOf(url) {
    try { return new URL(url).hostname; } catch (e) { return ""; }
  }

  // A new touch: the URL carries UTM or a click id, or the visitor came from another site.
  function currentTouch() {
    var query = new URLSearchParams(location.search);
    var touch = {};
    var tagged = false;
    KEYS.forEach(function (key) {
      var value = query.get(key);
      if (value) { touch[key] = value.slice(0, 200); tagged = true; }
    });
    var referrer = document.referrer;
    var foreign = referrer && hostOf(referrer) !== location.hostname;
    if (!tagged && !foreign) return null;
    touch.landing_url = location.href.slice(0, 400);
    if (foreign) touch.referrer = referrer.slice(0, 400);
    touch.at = new Date(now()).toISOString();
    return touch;
  }

  var state = readState();
  if (!state.v) state.v = randomId();
  var touch = currentTouch();
  if (touch) {
    state.l = touch;
    if (!state.f) state.f = touch;
  } else if (!state.l) {  // a direct visit still has a landing page
    state.l = { landing_url: location.href.slice(0, 400), at: new Date(now()).toISOString() };
    if (!state.f) state.f = state.l;
  }
  writeState(state);

  function put(form, name, value) {
    if (value === undefined || value === null || value === "") return;
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    if (!input.value) input.value = value;  // a value the page set itself wins
  }

  function honeypot(form) {
    if (form.querySelector('input[name="_hp"]')) return;
    var box = document.createElement("div");
    box.setAttribute("aria-hidden", "true");
    box.style.cssText = "position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden";
    var input = document.createElement("input");
    input.type = "text";
    input.name = "_hp";
    input.tabIndex = -1;
    input.autocomplete = "off";
    box.appendChild(input);
    form.appendChild(box);
  }

  function attach(form) {
    if (!form.getAttribute("action") && submitUrl) form.setAttribute("action", submitUrl);
    if (!form.getAttribute("method")) form.setAttribute("method", "post");
    put(form, "_form_key", CONFIG.key);
    put(form, "_rendered_at", String(now()));
    put(form, "_submission_id", randomId());  // a double click makes one lead
    put(form, "visitor_id", state.v);
    var last = state.l || {};
    var first = state.f || {};
    KEYS.concat(URL_FIELDS).forEach(function (key) {
      put(form, key, last[key]);
      put(form, "first_" + key, first[key]);
    });
    put(form, "first_at", first.at);
    honeypot(form);
  }

  function forms() {
    var path = "/v1/forms/" + CONFIG.formId + "/submit";
    return Array.prototype.filter.call(document.forms, function (form) {
      return form.getAttribute("data-crm-form") === CONFIG.formId ||
        (form.getAttribute("action") || "").indexOf(path) !== -1;
    });
  }

  function attachAll() { forms().forEach(attach); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})();
