// Where the panels go in the window: model and data on the left, training in
// the centre, the GPU on the right, and two floating windows over the centre
// (GPU insight, and Inside the network, a bar along the bottom until opened)
// that never cover what stops a run.
//
// The layout follows the display: the panels are placed for its size on first
// use and again whenever it changes (imgui.ini keeps the size they were placed
// for, so a user's own arrangement is kept across runs at the same size).
#pragma once

namespace ts::ui {

// A rectangle in display pixels.
struct LayoutRect {
  float x = 0, y = 0, width = 0, height = 0;
  float right() const { return x + width; }
  float bottom() const { return y + height; }
  bool Contains(const LayoutRect& other) const;
  bool Overlaps(const LayoutRect& other) const;
};

struct PanelLayout {
  LayoutRect model, data, training, gpu;
  LayoutRect inside_bar;   // the Inside window collapsed: its title bar along the bottom
  LayoutRect inside_open;  // the Inside window opened: grown upwards from the bar
  LayoutRect insight;      // GPU insight
};

// The default layout for a display of width x height pixels. `bar` is the
// height of a window's title bar (ImGui's frame height); `em` the font size,
// the unit of the panels' least widths. `uncovered_bottom` is the lowest y the
// floating windows leave uncovered over the centre (the bottom of the Training
// panel's controls; 0 when not known yet: then a share of the height).
PanelLayout DefaultLayout(float width, float height, float bar, float em, float uncovered_bottom);

// `window` moved down (and made shorter, not below `least_height`) so that it
// does not overlap `uncovered`, and kept inside a display `height` tall.
// Returned unchanged when it does not overlap.
LayoutRect KeepBelow(const LayoutRect& window, const LayoutRect& uncovered, float height, float least_height);

// `pixels` as meant at the standard 15 px font, scaled with the font (a HiDPI
// display's content scale): for the few sizes panels give in pixels.
float Scaled(float pixels);

// Registers imgui.ini's record of the display size the panels were placed
// for; call once after ImGui::CreateContext, before the first frame.
void InstallLayoutSettings();

// Places the panels (before they are drawn, each frame): for the display
// size on first use and when it changes; otherwise where the user left them.
void PlacePanels();

// Marks what the floating windows must leave uncovered: the current window,
// from its top down to the last item drawn (the Training panel calls it after
// its Train / Pause / Step / Stop / Reset row and progress lines). Without a
// mark, the Training panel's control row (its Stop button) is kept uncovered.
void KeepUncovered();

// Keeps the four panels behind the floating windows (GPU insight, Inside): a
// click on a panel, whose controls they leave uncovered, does not lift the
// panel over them (the opened Inside window's bottom edge would then show under
// the Training panel as a strip of cut tiles). Call after ImGui::EndFrame (where
// a click raises a window) and before ImGui::Render.
void KeepPanelsBehindFloatingWindows();

// For a floating window, between its Begin and End: moves it below what must
// stay uncovered (see KeepUncovered), shorter if need be, and into the display.
void StayClearOfControls();

}  // namespace ts::ui
