/** The hint beside the rule editor: every field a condition may read, and the syntax by example. */
import { t } from "@/i18n";

import { FIELDS, SYNTAX } from "./language";

export function RuleHelp() {
  return (
    <details className="rule-help">
      <summary>{t("scorecards.helpTitle")}</summary>
      <p>{t("scorecards.helpIntro")}</p>
      <dl>
        {FIELDS.map(([path, type]) => (
          <div key={path}>
            <dt>
              <code>{path}</code> ({t(`scorecards.type.${type}`)})
            </dt>
            <dd>{t(`scorecards.field.${path}`)}</dd>
          </div>
        ))}
      </dl>
      <ul>
        {SYNTAX.map(([construct, example]) => (
          <li key={construct}>
            {t(`scorecards.syntax.${construct}`)} <code>{example}</code>
          </li>
        ))}
        <li>{t("scorecards.syntax.limits")}</li>
      </ul>
    </details>
  );
}
