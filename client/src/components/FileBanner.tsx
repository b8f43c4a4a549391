// A file being opened (how far, with a way out) or why it could not be: one line under the header.
import type { FileProgress } from "../openFile.ts";

interface Props {
  progress?: FileProgress;
  error?: string;
  onCancel(): void;
  onDismiss(): void;
}

export function FileBanner({ progress, error, onCancel, onDismiss }: Props) {
  if (progress) {
    const pct = progress.sizeBytes > 0 ? Math.floor((100 * progress.readBytes) / progress.sizeBytes) : 100;
    return (
      <div className="file-banner" role="status">
        <progress max={100} value={pct} aria-label={`Reading ${progress.name}`} />
        <span>Opening <b>{progress.name}</b>… {pct}% · {progress.lines.toLocaleString("en-US")} lines
          · {progress.pings.toLocaleString("en-US")} pings</span>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    );
  }
  if (error) {
    return (
      <div className="file-banner file-error" role="alert">
        <span>Could not open <code>{error}</code></span>
        <button type="button" onClick={onDismiss}>Dismiss</button>
      </div>
    );
  }
  return <div className="file-banner-empty" />;
}
