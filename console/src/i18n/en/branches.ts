export const text = {
  "branches.title": "Branches",
  "branches.new": "New branch",
  "branches.newTitle": "New branch",
  "branches.name": "Name",
  "branches.create": "Create branch",
  "branches.creating": "Creating the branch…",
  "branches.created": "Branch {name} created.",
  "branches.colName": "Name",
  "branches.colId": "ID",
};
