// The page's file mode: at most one capture file open (or opening) at a time; closing it, or opening
// another, cancels a read still in progress.
import { useCallback, useEffect, useRef, useState } from "react";
import { openCaptureFile, type FileProgress, type FileView } from "./openFile.ts";

export interface CaptureFileState {
  /** the open file, while the page shows it instead of the live list */
  view?: FileView;
  /** a file being read */
  progress?: FileProgress;
  /** why the last file could not be opened: `NAME:LINE: what` */
  error?: string;
  open(file: File): void;
  /** back to live */
  close(): void;
  dismissError(): void;
}

export function useCaptureFile(onChange: () => void): CaptureFileState {
  const [view, setView] = useState<FileView | undefined>(undefined);
  const [progress, setProgress] = useState<FileProgress | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const reading = useRef<AbortController | null>(null);

  useEffect(() => () => reading.current?.abort(), []);

  const open = useCallback((file: File) => {
    reading.current?.abort();
    const ctrl = new AbortController();
    reading.current = ctrl;
    setError(undefined);
    void openCaptureFile(file, setProgress, ctrl.signal).then((r) => {
      if (ctrl.signal.aborted) return;
      reading.current = null;
      setProgress(undefined);
      if (!r.ok) return setError(r.error);
      setView(r.value);
      onChange();
    });
  }, [onChange]);

  const close = useCallback(() => {
    reading.current?.abort();
    reading.current = null;
    setProgress(undefined);
    setView(undefined);
    onChange();
  }, [onChange]);

  const dismissError = useCallback(() => setError(undefined), []);
  return { view, progress, error, open, close, dismissError };
}
