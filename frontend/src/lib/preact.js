// The one place that names the vendored bundle (Preact + hooks + htm, copied by vendor.sh).
export {
  html, render, h, Component, createContext,
  useState, useReducer, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useContext,
} from '../../vendor/preact-htm.js';
