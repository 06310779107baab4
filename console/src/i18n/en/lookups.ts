export const text = {
  "lookups.you": "{name} (you)",
};
