/**
 * chainmagic's JupyterLab (and Notebook 7) extension: `%%chain` and `%%chaintime` cells are edited in
 * the chain language instead of Python.
 *
 * A cell's language follows its model's MIME type. A cell whose first line opens with one of the
 * chain magics gets the chain language's MIME type; when that line changes to anything else, the cell
 * goes back to the notebook's own (Python's). JupyterLab resets every cell's MIME type when the
 * kernel's language is known, so a chain cell takes its own back whenever that happens.
 * Completion and Shift-Tab help come from the kernel (chainmagic.completion), in every frontend.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICellModel } from '@jupyterlab/cells';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { LANGUAGE_NAME, MAGICS, MIME_TYPE, chainLanguage } from './language';

const MAGIC_LINE = new RegExp(`^%%(?:${MAGICS.join('|')})(?![A-Za-z0-9_])`);

/** Whether a cell's text is written in the chain language: its first line names a chain magic. */
export function isChainCell(source: string): boolean {
  return MAGIC_LINE.test(source);
}

function follow(panel: NotebookPanel, cell: ICellModel): void {
  if (cell.type !== 'code') {
    return;
  }
  const update = (): void => {
    const chain = isChainCell(cell.sharedModel.getSource());
    if (chain && cell.mimeType !== MIME_TYPE) {
      cell.mimeType = MIME_TYPE;
    } else if (!chain && cell.mimeType === MIME_TYPE) {
      cell.mimeType = panel.content.codeMimetype;
    }
  };
  cell.contentChanged.connect(update);
  cell.mimeTypeChanged.connect(update);
  update();
}

function track(panel: NotebookPanel): void {
  const attach = (): void => {
    const model = panel.content.model;
    if (!model) {
      return;
    }
    for (let i = 0; i < model.cells.length; i++) {
      follow(panel, model.cells.get(i));
    }
    model.cells.changed.connect((_, change) => {
      if (change.type === 'add') {
        change.newValues.forEach(cell => follow(panel, cell));
      }
    });
  };
  if (panel.content.model) {
    attach();
  } else {
    panel.content.modelChanged.connect(attach);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'chainmagic:highlight',
  description: 'Edits %%chain and %%chaintime cells in the chain language.',
  autoStart: true,
  requires: [IEditorLanguageRegistry, INotebookTracker],
  activate: (
    _app: JupyterFrontEnd,
    languages: IEditorLanguageRegistry,
    notebooks: INotebookTracker
  ): void => {
    const support = chainLanguage();
    languages.addLanguage({
      name: LANGUAGE_NAME,
      displayName: 'Chain',
      mime: MIME_TYPE,
      extensions: [],
      load: async () => support
    });
    notebooks.forEach(track);
    notebooks.widgetAdded.connect((_, panel) => track(panel));
  }
};

export default plugin;
