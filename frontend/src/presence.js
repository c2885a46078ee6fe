// presence.js: other participants' cursors and selections, drawn in the editor with their
// name and colour. Kept in a StateField and mapped through every transaction (local edits and
// received updates alike), so a cursor stays where its owner left it until they move it.
import { StateField, StateEffect, ChangeSet } from '@codemirror/state';
import { EditorView, Decoration, WidgetType } from '@codemirror/view';
import { sendableUpdates, getSyncedVersion } from '@codemirror/collab';

export const setRemoteCursor = StateEffect.define(); // {connId, userName, color, ranges}
export const removeRemoteCursor = StateEffect.define(); // connId

class CaretWidget extends WidgetType {
  constructor(name, color) { super(); this.name = name; this.color = color; }
  eq(o) { return o.name === this.name && o.color === this.color; }
  toDOM() {
    const s = document.createElement('span');
    s.className = 'cd-remote-cursor';
    s.style.borderLeftColor = this.color;
    const label = document.createElement('span');
    label.className = 'cd-remote-name';
    label.style.background = this.color;
    label.textContent = this.name;
    s.appendChild(label);
    return s;
  }
  ignoreEvent() { return true; }
}

const clamp = (p, len) => Math.max(0, Math.min(len, p));

export const remoteCursors = StateField.define({
  create: () => new Map(),
  update(map, tr) {
    let next = map;
    if (!tr.changes.empty) {
      next = new Map();
      for (const [id, c] of map)
        next.set(id, { ...c, ranges: c.ranges.map((r) => ({ anchor: tr.changes.mapPos(r.anchor), head: tr.changes.mapPos(r.head) })) });
    }
    for (const e of tr.effects) {
      if (e.is(setRemoteCursor)) { if (next === map) next = new Map(map); next.set(e.value.connId, e.value); }
      if (e.is(removeRemoteCursor)) { if (next === map) next = new Map(map); next.delete(e.value); }
    }
    return next;
  },
  provide: (f) => EditorView.decorations.from(f, (map) => {
    const decos = [];
    for (const c of map.values())
      for (const r of c.ranges) {
        const from = Math.min(r.anchor, r.head), to = Math.max(r.anchor, r.head);
        if (from < to) decos.push(Decoration.mark({ class: 'cd-remote-selection', attributes: { style: `background-color: ${c.color}33` } }).range(from, to));
        decos.push(Decoration.widget({ widget: new CaretWidget(c.userName, c.color), side: 1 }).range(r.head));
      }
    return Decoration.set(decos, true);
  }),
});

// The effect that shows msg (a `cursor` message, or a user with a cursor from `sync`) in state:
// positions at the server's version msg.version, mapped through our unconfirmed edits.
export function cursorEffect(state, msg) {
  let ranges = msg.ranges;
  const local = sendableUpdates(state);
  if (local.length && msg.version === getSyncedVersion(state)) {
    const base = local[0].changes.length; // the document at the synced version
    const changes = local.reduce((acc, u) => acc.compose(u.changes), ChangeSet.empty(base));
    const map = (p) => changes.mapPos(clamp(p, base));
    ranges = ranges.map((r) => ({ anchor: map(r.anchor), head: map(r.head) }));
  }
  const len = state.doc.length;
  return setRemoteCursor.of({ connId: msg.connId, userName: msg.userName, color: msg.color,
    ranges: ranges.map((r) => ({ anchor: clamp(r.anchor, len), head: clamp(r.head, len) })) });
}

export const presenceTheme = EditorView.baseTheme({
  '.cd-remote-cursor': { position: 'relative', borderLeft: '2px solid', marginLeft: '-1px', marginRight: '-1px' },
  '.cd-remote-name': { position: 'absolute', top: '-1.3em', left: '-2px', fontSize: '0.7em', color: 'white', padding: '0 3px', borderRadius: '3px', whiteSpace: 'nowrap', pointerEvents: 'none' },
});
