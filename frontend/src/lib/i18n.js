// Translations: every visible string comes from i18n/vi.json or i18n/en.json (same keys in both).
// t('key', {name: 'x'}) replaces {name} in the text. Vietnamese is the default language.

const LANGUAGES = ['vi', 'en'];
const DEFAULT_LANGUAGE = 'vi';
const STORAGE_KEY = 'ecabinet.language';
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };

const catalogues = {};
let current = DEFAULT_LANGUAGE;
const listeners = new Set();

export function languages() {
  return LANGUAGES;
}

export function language() {
  return current;
}

export function locale() {
  return LOCALES[current];
}

function isLanguage(value) {
  return LANGUAGES.includes(value);
}

/** The language chosen on this device with the header switch, or null. */
export function storedLanguage() {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return isLanguage(value) ? value : null;
  } catch {
    return null;
  }
}

/** Loads both catalogues (they are small) and applies the stored or default language. */
export async function loadCatalogues() {
  await Promise.all(LANGUAGES.map(async (lang) => {
    const url = new URL(`../../i18n/${lang}.json`, import.meta.url);
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`cannot load ${url}: ${res.status}`);
    catalogues[lang] = await res.json();
  }));
  apply(storedLanguage() || DEFAULT_LANGUAGE);
}

function apply(lang) {
  current = isLanguage(lang) ? lang : DEFAULT_LANGUAGE;
  document.documentElement.lang = current;
  listeners.forEach((fn) => fn(current));
}

/** Switches the language; `remember` keeps the choice on this device (localStorage). */
export function setLanguage(lang, { remember = true } = {}) {
  if (!isLanguage(lang)) return;
  if (remember) {
    try { window.localStorage.setItem(STORAGE_KEY, lang); } catch { /* private mode: not kept */ }
  }
  if (lang !== current) apply(lang);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(catalogues[current] || {}, key);
}

export function t(key, params) {
  const text = (catalogues[current] && catalogues[current][key])
    ?? (catalogues[DEFAULT_LANGUAGE] && catalogues[DEFAULT_LANGUAGE][key])
    ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A date and time in the current language, in the device's time zone. */
export function formatDateTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(), {
    weekday: 'long', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(date);
}

/** A day (YYYY-MM-DD, a due date or a deadline) in the current language, without shifting it through a time zone. */
export function formatDay(day) {
  if (!day) return '';
  const [y, m, d] = day.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { day: '2-digit', month: '2-digit', year: 'numeric' })
    .format(new Date(y, m - 1, d));
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}
