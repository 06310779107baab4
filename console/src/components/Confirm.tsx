/** A button for an irreversible action: it first asks, naming what will happen. */
import { useState, type ReactNode } from "react";

import { t } from "@/i18n";

export function ConfirmButton({
  children,
  question,
  onConfirm,
  disabled,
}: {
  children: ReactNode;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" onClick={() => setAsking(true)} disabled={disabled}>
        {children}
      </button>
    );
  }
  return (
    <div role="alertdialog" aria-label={question} className="confirm">
      <p>{question}</p>
      <button
        type="button"
        className="danger"
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {t("common.confirm")}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        {t("common.cancel")}
      </button>
    </div>
  );
}
