// editor.js: the CodeMirror 6 editor of a session: Python highlighting, line numbers, undo
// history (collab keeps it local: undo only undoes your own edits), the collab extension and
// remote presence. Owns the EditorView; the connection (collab.js) talks to it as its host.
import { EditorState, Transaction } from '@codemirror/state';
import { EditorView, basicSetup } from 'codemirror';
import { python } from '@codemirror/lang-python';
import { collab } from '@codemirror/collab';
import { remoteCursors, presenceTheme } from './presence.js';

/**
 * @param {HTMLElement} parent
 * @param {object} o  {clientID, onLocalChange(update)}
 */
export function createEditor(parent, { clientID, onLocalChange }) {
  // Only what this page did: updates received from the server (Transaction.remote) move our
  // selection too, but the server maps our stored cursor through them itself, so sending it
  // again would only spend the rate limit.
  const listener = EditorView.updateListener.of((u) => {
    if (u.transactions.some((tr) => !tr.annotation(Transaction.remote) && (tr.docChanged || tr.selection))) onLocalChange(u);
  });
  // Until the first sync the editor is read-only: nothing typed can be lost to the reset.
  const make = (doc, version, editable = true) => EditorState.create({
    doc,
    extensions: [basicSetup, python(), collab({ startVersion: version, clientID }), remoteCursors, presenceTheme, listener,
      EditorView.editable.of(editable)],
  });
  const view = new EditorView({ state: make('', 0, false), parent });
  let ready = false;
  return {
    view,
    host: {
      getState: () => (ready ? view.state : null),
      dispatch: (spec) => view.dispatch(spec),
      reset: (doc, version) => { view.setState(make(doc, version)); ready = true; },
    },
  };
}
