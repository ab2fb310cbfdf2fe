/**
 * chainmagic's JupyterLab (and Notebook 7) extension: `%%chain` and `%%chaintime` cells are edited in
 * the chain language instead of Python.
 *
 * Every code cell's editor gets one more extension: while the document's first line opens with a
 * chain magic, the chain language outranks the cell's own (Python's); when the first line changes,
 * the cell is Python again. Deciding inside the editor, from its document (not by switching the
 * cell's MIME type), leaves nothing to race with JupyterLab, which resets every cell's MIME type
 * (and loads its language asynchronously) when the kernel's language is known.
 * Completion and Shift-Tab help come from the kernel (chainmagic.completion), in every frontend.
 */
import type { IPlugin } from '@lumino/coreutils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';

import { LANGUAGE_NAME, MIME_TYPE, chainCellExtension, chainLanguage } from './language';

// Typed with Lumino's plugin interface: the extension needs nothing of @jupyterlab/application
// but its plugin shape, and leaving that package out halves what a fresh build has to download.
const plugin: IPlugin<unknown, void> = {
  id: 'chainmagic:highlight',
  description: 'Edits %%chain and %%chaintime cells in the chain language.',
  autoStart: true,
  requires: [IEditorExtensionRegistry, IEditorLanguageRegistry],
  activate: (
    _app: unknown,
    extensions: IEditorExtensionRegistry,
    languages: IEditorLanguageRegistry
  ): void => {
    extensions.addExtension({
      name: 'chainmagic:chain-cells',
      // Code cells (notebooks and consoles) only: a markdown cell is never a magic.
      factory: options =>
        (options.model as { type?: string }).type === 'code'
          ? EditorExtensionRegistry.createImmutableExtension(
              chainCellExtension(options.model.sharedModel.getSource())
            )
          : null
    });
    // The language by name too, e.g. for ```chain blocks in Markdown.
    const support = chainLanguage();
    languages.addLanguage({
      name: LANGUAGE_NAME,
      displayName: 'Chain',
      mime: MIME_TYPE,
      extensions: [],
      load: async () => support
    });
  }
};

export default plugin;
