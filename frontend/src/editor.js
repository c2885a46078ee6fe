// editor.js: the CodeMirror 6 editor of a session: Python highlighting, line numbers, undo
// history (collab keeps it local: undo only undoes your own edits), the collab extension and
// remote presence. Owns the EditorView; the connection (collab.js) talks to it as its host.
import { EditorState } from '@codemirror/state';
import { EditorView, basicSetup } from 'codemirror';
import { python } from '@codemirror/lang-python';
import { collab } from '@codemirror/collab';
import { remoteCursors, presenceTheme } from './presence.js';

/**
 * @param {HTMLElement} parent
 * @param {object} o  {clientID, onLocalChange(update)}
 */
export function createEditor(parent, { clientID, onLocalChange }) {
  const listener = EditorView.updateListener.of((u) => {
    if (u.docChanged || u.selectionSet) onLocalChange(u);
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
